"""Hostile and broken HTTP servers and object stores for `modelship fetch`, all on 127.0.0.1:
credentials never leave the origin they were given for and never go over a downgrade to
plain http, a server that drips bytes meets the deadline, a body cut short without a
Content-Length is noticed, a download past the byte limit stops while it streams, and an S3
prefix no directory can hold is one line."""

from __future__ import annotations

import datetime
import http.server
import io
import ipaddress
import ssl
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from modelship_serving.errors import FetchError
from modelship_serving.fetch.fetch import fetch_repository
from modelship_serving.fetch.http import origin_of, redirect_keeps_credentials
from modelship_serving.fetch.limits import FetchBudget, FetchLimitError

pytestmark = pytest.mark.timeout(60)  # a regression here hangs: bound it

SECRET = "Bearer not-for-other-hosts"
MiB = 1024 * 1024


def _archive() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (("m/config.pbtxt", b'name: "m"\n'), ("m/1/model.onnx", b"onnx")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


ARCHIVE = _archive()


@dataclass
class Server:
    """A local server whose behaviour per path is a function; it records what it was sent."""

    url: str
    routes: dict[str, Callable[[http.server.BaseHTTPRequestHandler], None]]
    authorizations: list[tuple[str, str | None]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


def _start_body(
    handler: http.server.BaseHTTPRequestHandler, length: int | str | None = None
) -> None:
    """Answer 200 with `length` as Content-Length (none when None); the body comes next."""
    handler.send_response(200)
    if length is not None:
        handler.send_header("Content-Length", str(length))
    handler.end_headers()


def _serve_archive(handler: http.server.BaseHTTPRequestHandler) -> None:
    _start_body(handler, len(ARCHIVE))
    handler.wfile.write(ARCHIVE)


def _redirect_to(
    location: Callable[[], str],
) -> Callable[[http.server.BaseHTTPRequestHandler], None]:
    def answer(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", location())
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    started: list[tuple[http.server.ThreadingHTTPServer, threading.Thread, Server]] = []

    def start(tls: ssl.SSLContext | None = None) -> Server:
        record = Server(url="", routes={})

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                record.authorizations.append((self.path, self.headers.get("Authorization")))
                route = record.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                route(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        if tls is not None:
            server.socket = tls.wrap_socket(server.socket, server_side=True)
        scheme = "https" if tls else "http"
        record.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        started.append((server, thread, record))
        return record

    yield start
    for server, thread, record in started:
        record.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MODELSHIP_HTTP_AUTHORIZATION", SECRET)
    return SECRET


# Credentials and redirects ---------------------------------------------------------------


def test_credentials_are_not_sent_to_another_origin(
    start_server: Callable[..., Server], credentials: str, tmp_path: Path
) -> None:
    other = start_server()
    other.routes["/m.tar.gz"] = _serve_archive
    origin = start_server()
    origin.routes["/m.tar.gz"] = _redirect_to(lambda: f"{other.url}/m.tar.gz")
    fetch_repository(f"{origin.url}/m.tar.gz", tmp_path / "dest")
    assert origin.authorizations == [("/m.tar.gz", credentials)]
    assert other.authorizations == [("/m.tar.gz", None)]  # another port is another origin


def test_credentials_follow_a_redirect_within_their_origin(
    start_server: Callable[..., Server], credentials: str, tmp_path: Path
) -> None:
    origin = start_server()
    origin.routes["/old.tar.gz"] = _redirect_to(lambda: "/m.tar.gz")
    origin.routes["/m.tar.gz"] = _serve_archive
    fetch_repository(f"{origin.url}/old.tar.gz", tmp_path / "dest")
    assert origin.authorizations == [("/old.tar.gz", credentials), ("/m.tar.gz", credentials)]


def test_a_redirect_back_from_another_origin_gets_credentials_only_at_home(
    start_server: Callable[..., Server], credentials: str, tmp_path: Path
) -> None:
    origin = start_server()
    other = start_server()
    origin.routes["/a.tar.gz"] = _redirect_to(lambda: f"{other.url}/b.tar.gz")
    other.routes["/b.tar.gz"] = _redirect_to(lambda: f"{origin.url}/m.tar.gz")
    origin.routes["/m.tar.gz"] = _serve_archive
    fetch_repository(f"{origin.url}/a.tar.gz", tmp_path / "dest")
    assert other.authorizations == [("/b.tar.gz", None)]
    assert origin.authorizations == [("/a.tar.gz", credentials), ("/m.tar.gz", credentials)]


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_a_redirect_from_https_to_plain_http_is_refused(
    start_server: Callable[..., Server],
    credentials: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cert_file, key_file = _self_signed(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_file, key_file)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # the client trusts this server only
    plain = start_server()
    plain.routes["/m.tar.gz"] = _serve_archive
    secure = start_server(tls)
    secure.routes["/m.tar.gz"] = _serve_archive
    secure.routes["/down.tar.gz"] = _redirect_to(lambda: f"{plain.url}/m.tar.gz")
    # The TLS set-up is real: a direct https fetch works.
    fetch_repository(f"{secure.url}/m.tar.gz", tmp_path / "direct")
    with pytest.raises(FetchError, match="from https to plain http; refused") as caught:
        fetch_repository(f"{secure.url}/down.tar.gz", tmp_path / "dest")
    assert credentials not in str(caught.value)
    assert plain.authorizations == []  # nothing was sent in clear text
    assert not (tmp_path / "dest").exists()


@pytest.mark.parametrize(
    ("from_url", "to_url", "keeps"),
    [
        ("https://h/m.tar.gz", "https://h:443/n.tar.gz", True),
        ("https://h/m.tar.gz", "https://H/n.tar.gz", True),
        ("https://h/m.tar.gz", "https://h:8443/n.tar.gz", False),
        ("https://h/m.tar.gz", "https://other/n.tar.gz", False),
        ("http://h/m.tar.gz", "https://h/m.tar.gz", False),  # another scheme, another origin
        ("http://h/m.tar.gz", "http://h:80/n", True),
    ],
)
def test_which_redirects_keep_credentials(from_url: str, to_url: str, keeps: bool) -> None:
    assert redirect_keeps_credentials(from_url, to_url, origin_of(from_url)) is keeps


@pytest.mark.parametrize(
    "to_url", ["http://h/m.tar.gz", "http://other:443/m", "ftp://h/m.tar.gz", "file:///etc/x"]
)
def test_which_redirects_are_refused(to_url: str) -> None:
    with pytest.raises(FetchError, match="refused"):
        redirect_keeps_credentials("https://h/m.tar.gz", to_url, origin_of("https://h/m.tar.gz"))


# Time, size and truncation -----------------------------------------------------------


def test_a_server_that_drips_bytes_meets_the_deadline(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = start_server()

    def drip(handler: http.server.BaseHTTPRequestHandler) -> None:
        _start_body(handler, 1000)
        for _ in range(1000):
            handler.wfile.write(b"\0")
            handler.wfile.flush()
            if server.stop.wait(20):  # a byte every 20 s, until the test ends
                return

    server.routes["/m.tar"] = drip
    started = time.monotonic()
    with pytest.raises(FetchLimitError, match="did not finish within 2s"):
        fetch_repository(
            f"{server.url}/m.tar", tmp_path / "dest", budget=FetchBudget(timeout_seconds=2)
        )
    assert time.monotonic() - started < 10
    assert not (tmp_path / "dest").exists()


def test_a_server_that_answers_slowly_between_retries_meets_the_deadline(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = start_server()
    server.routes["/m.tar"] = lambda handler: handler.send_error(503)
    started = time.monotonic()
    with pytest.raises(FetchLimitError):
        fetch_repository(
            f"{server.url}/m.tar", tmp_path / "dest", budget=FetchBudget(timeout_seconds=1)
        )
    assert time.monotonic() - started < 10


def test_a_tar_cut_short_without_a_content_length_is_refused(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name in ("m/config.pbtxt", "m/1/model.onnx"):
            info = tarfile.TarInfo(name)
            info.size = 512
            tar.addfile(info, io.BytesIO(b"x" * 512))
    cut = buffer.getvalue()[:1024]  # the first member whole; the second and the end marker gone
    server = start_server()

    def close_early(handler: http.server.BaseHTTPRequestHandler) -> None:
        _start_body(handler)  # no Content-Length: the body ends when the connection does
        handler.wfile.write(cut)
        handler.close_connection = True

    server.routes["/m.tar"] = close_early
    with pytest.raises(FetchError, match="truncated"):
        fetch_repository(f"{server.url}/m.tar", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def _endless(
    sent: list[int], length: int | None
) -> Callable[[http.server.BaseHTTPRequestHandler], None]:
    def answer(handler: http.server.BaseHTTPRequestHandler) -> None:
        _start_body(handler, length)
        try:
            for _ in range(1024):
                handler.wfile.write(bytes(MiB))
                sent.append(MiB)
        except OSError:
            pass  # the client hung up, as it should
        handler.close_connection = True

    return answer


def test_a_download_past_the_byte_limit_stops_while_it_streams(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = start_server()
    sent: list[int] = []
    server.routes["/m.tar"] = _endless(sent, length=None)  # no size to check beforehand
    with pytest.raises(FetchLimitError, match="past its limit of 2097152 bytes"):
        fetch_repository(
            f"{server.url}/m.tar", tmp_path / "dest", budget=FetchBudget(max_bytes=2 * MiB)
        )
    assert not (tmp_path / "dest").exists()
    time.sleep(0.5)
    assert sum(sent) < 64 * MiB  # socket buffers aside, the client stopped reading at once


def test_a_declared_length_past_the_byte_limit_is_refused_before_the_body(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = start_server()
    sent: list[int] = []
    server.routes["/m.tar"] = _endless(sent, length=1024 * MiB)
    with pytest.raises(FetchLimitError, match="past its limit of 2097152 bytes"):
        fetch_repository(
            f"{server.url}/m.tar", tmp_path / "dest", budget=FetchBudget(max_bytes=2 * MiB)
        )
    assert not (tmp_path / "dest").exists()
    time.sleep(0.5)
    assert sum(sent) < 64 * MiB


def test_an_invalid_content_length_is_one_line(
    start_server: Callable[..., Server], tmp_path: Path
) -> None:
    server = start_server()

    def bogus(handler: http.server.BaseHTTPRequestHandler) -> None:
        _start_body(handler, "lots")
        handler.wfile.write(ARCHIVE)
        handler.close_connection = True

    server.routes["/m.tar.gz"] = bogus
    with pytest.raises(FetchError, match="invalid Content-Length 'lots'"):
        fetch_repository(f"{server.url}/m.tar.gz", tmp_path / "dest")


# Object storage --------------------------------------------------------------------------


def test_an_s3_prefix_holding_a_file_and_a_directory_of_one_name_is_one_line(
    s3_environment: Any, tmp_path: Path
) -> None:
    client = s3_environment.client()
    client.create_bucket(Bucket="hostile")
    client.put_object(Bucket="hostile", Key="m/a", Body=b"file")
    client.put_object(Bucket="hostile", Key="m/a/b", Body=b"file below it")
    with pytest.raises(FetchError, match="holds both 'm/a' and 'm/a/b'") as caught:
        fetch_repository("s3://hostile/m", tmp_path / "dest")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "dest").exists()


def test_an_s3_object_larger_than_the_byte_limit_is_refused(
    s3_environment: Any, tmp_path: Path
) -> None:
    client = s3_environment.client()
    client.create_bucket(Bucket="large")
    client.put_object(Bucket="large", Key="m/1/model.onnx", Body=bytes(3 * MiB))
    with pytest.raises(FetchLimitError):
        fetch_repository("s3://large/m", tmp_path / "dest", budget=FetchBudget(max_bytes=MiB))
    assert not (tmp_path / "dest").exists()


@pytest.mark.parametrize("uri", ["gs://models/large", "gs://models/large.tar"])
def test_a_gcs_object_larger_than_the_byte_limit_is_refused_before_its_first_byte(
    gcs_models: Any, tmp_path: Path, uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelship_serving.storage import objects

    gcs_models.blob("large/1/model.onnx").upload_from_string(bytes(3 * MiB))
    gcs_models.blob("large.tar").upload_from_string(bytes(3 * MiB))
    downloads: list[str] = []
    real_filesystem = objects.filesystem

    class RecordingReads:
        """The store's filesystem, noting each object opened for reading."""

        def __init__(self, scheme: str) -> None:
            self.filesystem = real_filesystem(scheme)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.filesystem, name)

        def open_input_stream(self, path: str, **options: Any) -> Any:
            downloads.append(path)
            return self.filesystem.open_input_stream(path, **options)

    monkeypatch.setattr(objects, "filesystem", RecordingReads)
    with pytest.raises(FetchLimitError, match="past its limit of 1048576 bytes"):
        fetch_repository(uri, tmp_path / "dest", budget=FetchBudget(max_bytes=MiB))
    assert downloads == [], "refused by its listed size, before a byte was asked for"
    assert not (tmp_path / "dest").exists()
