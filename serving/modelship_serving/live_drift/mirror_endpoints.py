"""The mirror receiver's front ends: KServe v2 inference over HTTP and gRPC, any model name.

Each answers at once (HTTP 200 `{}`, an empty ModelInferResponse) and leaves the reading
to the counting worker: the gateway ignores a mirror's answers, and nothing here may
hold a connection longer than it takes to read the body. Probes: `GET /v2/health/ready`,
`/v2/health/live` and `/healthz` answer 200.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from typing import Any
from urllib.parse import urlsplit

from modelship_serving.errors import ModelshipServingError
from modelship_serving.live_drift.mirror import MirroredWindow
from modelship_serving.live_drift.traces import TracedRequest
from modelship_serving.live_drift.v2_requests import (
    UnreadableRequestError,
    decoded_body,
    grpc_request_inputs,
    http_request_inputs,
)

INFER_PATH = re.compile(r"/v2/models/[^/]+(?:/versions/[^/]+)?/infer")
HEALTH_PATHS = frozenset({"/v2/health/ready", "/v2/health/live", "/healthz"})
HEADER_LENGTH = "Inference-Header-Content-Length"
# Larger copies are refused (and counted as skipped) rather than held in memory: the pod
# has 512Mi, and anyone who reaches the Service can send what the gateway would.
MAX_BODY_BYTES = 8 * 1024 * 1024
GRPC_THREADS = 4
# gRPC calls held at once (reading or queued for a worker thread); more are refused with
# RESOURCE_EXHAUSTED, copies the window never sees. 8 lost 12% of the copies of 16 clients
# calling without pause; 32 lose none there, and hold at most 32 x 4 MiB.
GRPC_MAX_CALLS = 32
# A gRPC message carries raw 4- or 8-byte values, so 4 MiB holds the 1M values a request
# may bring (v2_requests.MAX_VALUES_PER_REQUEST) for 4-byte types, half that for 8-byte ones.
GRPC_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
# HTTP bodies read at once; another connection waits this long for a reader, its bytes
# unread in the socket, and is then refused (503) as a full queue would refuse it.
HTTP_READERS = 4
READER_WAIT_SECONDS = 1.0
# A connection silent this long is closed, and a body not read within the deadline is
# refused: a slow sender holds a reader no longer than both together.
SOCKET_TIMEOUT_SECONDS = 10.0
BODY_DEADLINE_SECONDS = 10.0
MAX_LINE = 65_536
# HTTP connections open at once (a thread each); more are closed unanswered. A gateway keeps
# a few pooled connections per worker; idle ones close after SOCKET_TIMEOUT_SECONDS.
MAX_CONNECTIONS = 256
MAX_TRAILER_LINES = 64
_READ_PIECE = 256 * 1024

log = logging.getLogger(__name__)


class _BodyRefusedError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def _read(stream: BufferedIOBase, size: int, deadline: float) -> bytes:
    """Exactly ``size`` bytes, read in pieces until the deadline."""
    parts: list[bytes] = []
    left = size
    while left > 0:
        if time.monotonic() > deadline:
            raise _BodyRefusedError(408, "body not sent in time")
        piece = stream.read1(min(left, _READ_PIECE))  # one recv: the deadline is checked after each
        if not piece:
            raise _BodyRefusedError(400, "body shorter than announced")
        parts.append(piece)
        left -= len(piece)
    return b"".join(parts)


def _read_chunked(stream: BufferedIOBase, deadline: float) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        if time.monotonic() > deadline:
            raise _BodyRefusedError(408, "body not sent in time")
        line = stream.readline(MAX_LINE)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError as error:
            raise _BodyRefusedError(400, "malformed chunk size") from error
        if size < 0:  # int() reads "-1" in hex, and read(-1) would read to the end
            raise _BodyRefusedError(400, "malformed chunk size")
        if size == 0:
            for _ in range(MAX_TRAILER_LINES):
                if stream.readline(MAX_LINE) in (b"\r\n", b"\n", b""):
                    return b"".join(parts)
            raise _BodyRefusedError(400, "too many trailers")
        total += size
        if total > MAX_BODY_BYTES:
            raise _BodyRefusedError(413, "body too large")
        parts.append(_read(stream, size, deadline))
        stream.readline(MAX_LINE)  # the chunk's CRLF


def _read_http(
    body: bytes, header_length: str | None, encoding: str | None, wanted: frozenset[str]
) -> TracedRequest:
    try:
        length = None if header_length is None else int(header_length)
    except ValueError as error:
        raise UnreadableRequestError(f"{HEADER_LENGTH} {header_length!r} is no number") from error
    return http_request_inputs(decoded_body(body, encoding), length, wanted)


def _refused(reason: str) -> TracedRequest:
    raise UnreadableRequestError(reason)


class _MirrorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the gateway reuses its connections
    timeout = SOCKET_TIMEOUT_SECONDS
    window: MirroredWindow
    readers: threading.BoundedSemaphore

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: one log line per mirrored request would cost more than counting it."""

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def _body(self) -> bytes:
        if not self.readers.acquire(timeout=READER_WAIT_SECONDS):
            raise _BodyRefusedError(503, "every reader is busy")
        try:
            return self._read_body(time.monotonic() + BODY_DEADLINE_SECONDS)
        except OSError as error:  # the socket timed out or broke: as a body never sent
            raise _BodyRefusedError(408, f"body not read: {error}") from error
        finally:
            self.readers.release()

    def _read_body(self, deadline: float) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return _read_chunked(self.rfile, deadline)
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError as error:
            raise _BodyRefusedError(400, "malformed Content-Length") from error
        if not 0 <= length <= MAX_BODY_BYTES:
            raise _BodyRefusedError(413, "body too large")
        if not self.window.has_room(length):
            raise _BodyRefusedError(503, "the counting queue is full")
        return _read(self.rfile, length, deadline)

    def do_GET(self) -> None:
        self._answer(200 if urlsplit(self.path).path in HEALTH_PATHS else 404)

    def do_POST(self) -> None:
        infer = INFER_PATH.fullmatch(urlsplit(self.path).path) is not None
        try:
            body = self._body()
        except _BodyRefusedError as refusal:
            if infer:
                self.window.offer(functools.partial(_refused, str(refusal)))
            self.close_connection = True  # the rest of the body is not read
            with suppress(OSError):  # the sender may be gone: nobody to answer
                self._answer(refusal.status)
            return
        if infer:
            self.window.offer(
                functools.partial(
                    _read_http,
                    body,
                    self.headers.get(HEADER_LENGTH),
                    self.headers.get("Content-Encoding"),
                    self.window.wanted,
                ),
                len(body),
            )
        self._answer(200 if infer else 404)


class _MirrorHTTPServer(ThreadingHTTPServer):
    """A thread per connection, as many as MAX_CONNECTIONS at once."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[_MirrorHandler]) -> None:
        super().__init__(address, handler)
        self._connections = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._connections.acquire(blocking=False):
            self.shutdown_request(request)  # closed at once: no thread, no answer
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connections.release()


def http_server(window: MirroredWindow, address: str, port: int) -> ThreadingHTTPServer:
    """The HTTP front end, bound (port 0: any free port) but not yet serving."""
    handler = type(
        "MirrorHandler",
        (_MirrorHandler,),
        {"window": window, "readers": threading.BoundedSemaphore(HTTP_READERS)},
    )
    try:
        server = _MirrorHTTPServer((address, port), handler)
    except OSError as error:
        raise ModelshipServingError(
            f"cannot listen for mirrored HTTP requests on {address}:{port}:"
            f" {error.strerror or error}; free the port or give another --mirror-http-port"
        ) from error
    return server


def grpc_server(window: MirroredWindow, address: str, port: int) -> tuple[Any, int]:
    """The gRPC front end (started) and the port it bound."""
    try:
        import grpc
        from tritonclient.grpc import service_pb2, service_pb2_grpc
    except ImportError as error:
        raise ModelshipServingError(
            "the gRPC mirror endpoint needs grpcio and tritonclient: install"
            " modelship[triton-client], or give only --mirror-http-port"
        ) from error

    class Servicer(service_pb2_grpc.GRPCInferenceServiceServicer):  # type: ignore[misc]
        def ModelInfer(self, request: Any, context: Any) -> Any:  # noqa: N802 (the proto's)
            window.offer(
                functools.partial(grpc_request_inputs, request, window.wanted), request.ByteSize()
            )
            return service_pb2.ModelInferResponse()

        def ServerLive(self, request: Any, context: Any) -> Any:  # noqa: N802
            return service_pb2.ServerLiveResponse(live=True)

        def ServerReady(self, request: Any, context: Any) -> Any:  # noqa: N802
            return service_pb2.ServerReadyResponse(ready=True)

    server = grpc.server(
        ThreadPoolExecutor(max_workers=GRPC_THREADS, thread_name_prefix="mirror-grpc"),
        options=[("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_BYTES)],
        maximum_concurrent_rpcs=GRPC_MAX_CALLS,
    )
    service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(Servicer(), server)
    try:
        bound = int(server.add_insecure_port(f"{address}:{port}"))
    except RuntimeError:  # grpcio >= 1.52 raises where older releases returned 0
        bound = 0
    if bound == 0:
        raise ModelshipServingError(
            f"cannot listen for mirrored gRPC requests on {address}:{port}; free the port or"
            " give another --mirror-grpc-port"
        )
    server.start()
    return server, bound


class MirrorReceiver:
    """Both front ends of one window; a context manager that stops them on exit."""

    def __init__(
        self,
        window: MirroredWindow,
        address: str,
        http_port: int | None,
        grpc_port: int | None,
    ) -> None:
        self.window = window
        self.http_port: int | None = None
        self.grpc_port: int | None = None
        self._stack = ExitStack()
        try:
            if http_port is not None:
                http = http_server(window, address, http_port)
                self._stack.callback(http.server_close)
                self._stack.callback(http.shutdown)
                threading.Thread(target=http.serve_forever, name="mirror-http", daemon=True).start()
                self.http_port = int(http.server_address[1])
            if grpc_port is not None:
                grpc, self.grpc_port = grpc_server(window, address, grpc_port)
                self._stack.callback(grpc.stop, None)
        except BaseException:
            self._stack.close()
            raise

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> MirrorReceiver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
