"""`modelship fetch` brings a packaged repository from a real HTTP server, a real S3-protocol
server (moto in server mode, IAM auth on) and a GCS emulator (gcp-storage-emulator, which checks
no credentials, so gs credential errors are shown only for an unusable key file): right
checksum installs it, wrong
checksum installs nothing, missing objects and bad credentials fail with clear messages that
never show the secret, and transient HTTP errors are retried."""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from modelship_serving.digest import repository_sha256
from modelship_serving.errors import ChecksumError, FetchError
from modelship_serving.fetch.archive import write_repository_archive
from modelship_serving.fetch.fetch import fetch_repository
from support.http_servers import serving


@pytest.fixture(scope="module")
def archive_dir(packaged: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("served")
    write_repository_archive(packaged[0], directory / "models.tar.gz")
    return directory


class _FlakyHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files, but answers 503 to the first `failures_left` requests for flaky.tar.gz."""

    failures_left = 0

    def do_GET(self) -> None:
        if self.path.startswith("/flaky.tar.gz") and _FlakyHandler.failures_left > 0:
            _FlakyHandler.failures_left -= 1
            self.send_error(503, "try again")
            return
        if self.path.startswith("/flaky.tar.gz"):
            self.path = "/models.tar.gz"
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def http_server(archive_dir: Path) -> Iterator[str]:
    with serving(functools.partial(_FlakyHandler, directory=str(archive_dir))) as url:
        yield url


def test_http_archive_with_right_checksum(http_server: str, packaged: Any, tmp_path: Path) -> None:
    digest = repository_sha256(packaged[0])
    result = fetch_repository(f"{http_server}/models.tar.gz", tmp_path / "dest", digest)
    assert result.sha256 == digest
    assert repository_sha256(tmp_path / "dest") == digest


def test_http_archive_with_wrong_checksum(http_server: str, tmp_path: Path) -> None:
    with pytest.raises(ChecksumError, match="sha256 mismatch"):
        fetch_repository(f"{http_server}/models.tar.gz", tmp_path / "dest", "a" * 64)
    assert list(tmp_path.iterdir()) == []


def test_http_missing_object(http_server: str, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="does not exist"):
        fetch_repository(f"{http_server}/nope.tar.gz", tmp_path / "dest")


def test_http_transient_errors_are_retried(http_server: str, packaged: Any, tmp_path: Path) -> None:
    _FlakyHandler.failures_left = 2
    digest = repository_sha256(packaged[0])
    assert fetch_repository(f"{http_server}/flaky.tar.gz", tmp_path / "d", digest).sha256 == digest
    assert _FlakyHandler.failures_left == 0


@pytest.fixture(scope="module")
def s3_bucket(s3_server: Any, packaged: Any, archive_dir: Path) -> str:
    """Bucket `models` with the repository under `wine-1/` and as `wine-1.tar.gz`."""
    client = s3_server.client()
    client.create_bucket(Bucket="models")
    for path in sorted(packaged[0].rglob("*")):
        if path.is_file():
            key = f"wine-1/{path.relative_to(packaged[0]).as_posix()}"
            client.upload_file(str(path), "models", key)
    client.upload_file(str(archive_dir / "models.tar.gz"), "models", "wine-1.tar.gz")
    return "models"


def test_s3_prefix_with_right_checksum(
    s3_environment: Any, s3_bucket: str, packaged: Any, tmp_path: Path
) -> None:
    digest = repository_sha256(packaged[0])
    result = fetch_repository(f"s3://{s3_bucket}/wine-1", tmp_path / "dest", digest)
    assert result.sha256 == digest
    assert repository_sha256(tmp_path / "dest") == digest


def test_s3_archive_with_right_checksum(
    s3_environment: Any, s3_bucket: str, packaged: Any, tmp_path: Path
) -> None:
    digest = repository_sha256(packaged[0])
    assert (
        fetch_repository(f"s3://{s3_bucket}/wine-1.tar.gz", tmp_path / "d", digest).sha256 == digest
    )


def test_s3_wrong_checksum_installs_nothing(
    s3_environment: Any, s3_bucket: str, tmp_path: Path
) -> None:
    with pytest.raises(ChecksumError):
        fetch_repository(f"s3://{s3_bucket}/wine-1/", tmp_path / "dest", "b" * 64)
    assert list(tmp_path.iterdir()) == []


def assert_missing_objects_fail(store: str, tmp_path: Path, no_store: str | None) -> None:
    """An empty prefix and a missing archive of the bucket ``store`` (and the bucket ``no_store``
    that does not exist) each fail with a message that says so."""
    with pytest.raises(FetchError, match="holds no objects"):
        fetch_repository(f"{store}/no-such-model", tmp_path / "a")
    with pytest.raises(FetchError, match="does not exist"):
        fetch_repository(f"{store}/no-such-model.tar.gz", tmp_path / "b")
    if no_store is not None:
        with pytest.raises(FetchError, match="does not exist"):
            fetch_repository(f"{no_store}/wine-1", tmp_path / "c")


def assert_prefix_and_archive_fetched(
    store: str, digest: str, tmp_path: Path, prefix: str, mismatched: str
) -> None:
    """The repository fetched from ``store`` under ``prefix`` and as wine-1.tar.gz with the
    right checksum; under ``mismatched`` with a wrong one, nothing installed."""
    assert fetch_repository(f"{store}/{prefix}", tmp_path / "a", digest).sha256 == digest
    assert repository_sha256(tmp_path / "a") == digest
    assert fetch_repository(f"{store}/wine-1.tar.gz", tmp_path / "b", digest).sha256 == digest
    with pytest.raises(ChecksumError):
        fetch_repository(f"{store}/{mismatched}", tmp_path / "c", "d" * 64)
    assert not (tmp_path / "c").exists()


def test_s3_missing_objects(s3_environment: Any, s3_bucket: str, tmp_path: Path) -> None:
    assert_missing_objects_fail(f"s3://{s3_bucket}", tmp_path, "s3://no-such-bucket")


def test_s3_bad_credentials(
    s3_environment: Any, s3_bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-value")
    with pytest.raises(FetchError, match="refused access") as caught:
        fetch_repository(f"s3://{s3_bucket}/wine-1", tmp_path / "dest")
    assert "wrong-secret-value" not in str(caught.value)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN")
    with pytest.raises(FetchError, match="InvalidAccessKeyId"):
        fetch_repository(f"s3://{s3_bucket}/wine-1", tmp_path / "dest")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(FetchError, match="no usable S3 credentials"):
        fetch_repository(f"s3://{s3_bucket}/wine-1", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_cli_as_the_init_container_runs_it(
    s3_environment: Any, s3_bucket: str, packaged: Any, tmp_path: Path
) -> None:
    digest = repository_sha256(packaged[0])
    mount = tmp_path / "models"
    mount.mkdir()  # an emptyDir mount point already exists
    command = [sys.executable, "-c", "from modelship.cli import main; main()", "fetch"]
    done = subprocess.run(
        [
            *command,
            "--uri",
            f"s3://{s3_bucket}/wine-1.tar.gz",
            "--dest",
            str(mount),
            "--sha256",
            digest,
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert repository_sha256(mount) == digest
    assert s3_environment.secret_key not in done.stdout + done.stderr
    refused = subprocess.run(
        [
            *command,
            "--uri",
            f"s3://{s3_bucket}/wine-1",
            "--dest",
            str(tmp_path / "x"),
            "--sha256",
            "c" * 64,
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert refused.returncode == 1
    assert "Error: sha256 mismatch" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.fixture
def gcs_bucket(gcs_models: Any, packaged: Any, archive_dir: Path) -> str:
    """Bucket `models` on the emulator with the repository under `wine-1/` and as an archive."""
    bucket = gcs_models
    for path in sorted(packaged[0].rglob("*")):
        if path.is_file():
            bucket.blob(f"wine-1/{path.relative_to(packaged[0]).as_posix()}").upload_from_filename(
                str(path)
            )
    bucket.blob("wine-1.tar.gz").upload_from_filename(str(archive_dir / "models.tar.gz"))
    return "models"


def test_gcs_prefix_and_archive(gcs_bucket: str, packaged: Any, tmp_path: Path) -> None:
    digest = repository_sha256(packaged[0])
    assert_prefix_and_archive_fetched(f"gs://{gcs_bucket}", digest, tmp_path, "wine-1/", "wine-1")


def test_gcs_missing_objects(gcs_bucket: str, tmp_path: Path) -> None:
    assert_missing_objects_fail(f"gs://{gcs_bucket}", tmp_path, None)


def test_gcs_unusable_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "key.json").write_text("not a key")
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "key.json"))
    with pytest.raises(FetchError, match="no usable Google Cloud credentials"):
        fetch_repository("gs://models/wine-1", tmp_path / "dest")


def _put(filesystem: Any, source: Path, path: str) -> None:
    with filesystem.open_output_stream(path, compression=None) as stream:
        stream.write(source.read_bytes())


@pytest.fixture
def azure_container(azure_models: Any, packaged: Any, archive_dir: Path) -> str:
    """Container `models` on Azurite with the repository under `wine-1/` and as an archive."""
    for path in sorted(packaged[0].rglob("*")):
        if path.is_file():
            _put(azure_models, path, f"models/wine-1/{path.relative_to(packaged[0]).as_posix()}")
    _put(azure_models, archive_dir / "models.tar.gz", "models/wine-1.tar.gz")
    return "models"


def test_azure_prefix_and_archive(azure_container: str, packaged: Any, tmp_path: Path) -> None:
    digest = repository_sha256(packaged[0])
    store = f"az://{azure_container}"
    assert_prefix_and_archive_fetched(store, digest, tmp_path, "wine-1", "wine-1/")


def test_azure_missing_objects(azure_container: str, tmp_path: Path) -> None:
    assert_missing_objects_fail(f"az://{azure_container}", tmp_path, "az://no-such-container")


def test_azure_bad_credentials_never_show_the_key(
    azure_container: str, azurite: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from support.azurite import connection_string

    wrong_key = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk="
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection_string(azurite, wrong_key))
    with pytest.raises(FetchError, match="refused access") as caught:
        fetch_repository(f"az://{azure_container}/wine-1", tmp_path / "dest")
    assert wrong_key not in str(caught.value)
    assert "AZURE_STORAGE_ACCOUNT_KEY" in str(caught.value)
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    with pytest.raises(FetchError, match="AZURE_STORAGE_ACCOUNT_NAME"):
        fetch_repository(f"az://{azure_container}/wine-1", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
