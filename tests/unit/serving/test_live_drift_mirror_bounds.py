"""What anyone who reaches the drift-watch Service can send costs the pod bounded memory.

Proves: a gzip or deflate bomb is refused once it inflates past the bound, without
inflating further; a request whose shapes declare more values than the bound, or whose
payload holds more values than its shape, is refused before its values are decoded; the
counting queue is bounded in bytes (a copy beyond it is dropped and counted, the bytes come
back once counted); the HTTP front end refuses a body the queue has no room for without
reading it, and a slow sender holds a reader no longer than the deadline; hostile chunked
bodies are refused; connections beyond the bound are closed without a thread; a gRPC
message over its bound never reaches the window; the worker counts a batch in parts, and
the parts add up to the whole.
"""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import threading
import time
import zlib
from collections.abc import Iterator

import grpc
import pytest
from modelship_serving.live_drift import mirror, mirror_endpoints
from modelship_serving.live_drift.mirror import MirroredWindow
from modelship_serving.live_drift.mirror_endpoints import MirrorReceiver
from modelship_serving.live_drift.traces import TracedRequest
from modelship_serving.live_drift.v2_requests import (
    MAX_DECODED_BYTES,
    MAX_VALUES_PER_REQUEST,
    UnreadableRequestError,
    decoded_body,
    grpc_request_inputs,
    http_request_inputs,
)
from modelship_serving.metadata import ModelMetadata
from support.live_drift import package_churn, wait_for
from tritonclient.grpc import service_pb2, service_pb2_grpc

WANTED = frozenset({"age", "city"})


@pytest.fixture(scope="module")
def churn(tmp_path_factory: pytest.TempPathFactory) -> ModelMetadata:
    return package_churn(tmp_path_factory.mktemp("churn"))[1]


@pytest.mark.parametrize(
    "compress",
    [gzip.compress, zlib.compress],
    ids=["gzip", "deflate"],
)
def test_a_compressed_bomb_is_refused_at_the_bound(compress: object) -> None:
    assert callable(compress)
    bomb = compress(b"\0" * (4 * MAX_DECODED_BYTES))  # 32 MiB from about 32 KiB
    encoding = "gzip" if compress is gzip.compress else "deflate"
    with pytest.raises(UnreadableRequestError, match="inflates beyond"):
        decoded_body(bomb, encoding)
    # Just under the bound still reads, and a cut-off stream is refused.
    fits = b"\0" * MAX_DECODED_BYTES
    assert decoded_body(compress(fits), encoding) == fits
    with pytest.raises(UnreadableRequestError, match="truncated"):
        decoded_body(compress(fits)[:-8], encoding)


def test_shapes_declaring_too_many_values_are_refused_before_decoding() -> None:
    too_many = MAX_VALUES_PER_REQUEST // 2 + 1
    body = json.dumps(
        {
            "inputs": [
                {"name": "age", "shape": [too_many, 1], "datatype": "FP32", "data": [0] * too_many},
                {"name": "city", "shape": [too_many, 1], "datatype": "BYTES", "data": []},
            ]
        }
    ).encode()
    with pytest.raises(UnreadableRequestError, match=f"over {MAX_VALUES_PER_REQUEST} values"):
        http_request_inputs(body, None, WANTED)

    message = service_pb2.ModelInferRequest()
    message.inputs.add(name="age", datatype="BOOL", shape=[MAX_VALUES_PER_REQUEST + 1])
    message.raw_input_contents.append(b"\x01" * (MAX_VALUES_PER_REQUEST + 1))
    with pytest.raises(UnreadableRequestError, match="over"):
        grpc_request_inputs(message, WANTED)


def test_a_payload_larger_than_its_shape_is_refused_undecoded() -> None:
    # One declared value, a megabyte of them sent: each would become a Python float.
    raw = service_pb2.ModelInferRequest()
    raw.inputs.add(name="age", datatype="BOOL", shape=[1, 1])
    raw.raw_input_contents.append(b"\x01" * 1_000_000)
    typed = service_pb2.ModelInferRequest()
    typed.inputs.add(name="age", datatype="BOOL", shape=[1, 1]).contents.bool_contents.extend(
        [True] * 100_000
    )
    strings = service_pb2.ModelInferRequest()
    strings.inputs.add(name="city", datatype="BYTES", shape=[1])
    strings.raw_input_contents.append(b"\x00\x00\x00\x00" * 100_000)
    for message in (raw, typed, strings):
        with pytest.raises(UnreadableRequestError):
            grpc_request_inputs(message, WANTED)
    header = {"inputs": [{"name": "age", "shape": [1], "datatype": "FP32", "data": [1.0] * 1000}]}
    with pytest.raises(UnreadableRequestError, match="holds 1000 values for 1"):
        http_request_inputs(json.dumps(header).encode(), None, WANTED)


def test_the_queue_is_bounded_in_bytes_and_gives_them_back_once_counted(
    churn: ModelMetadata,
) -> None:
    window = MirroredWindow(churn, 3600.0, 0.2, max_pending_bytes=100)
    release = threading.Event()

    def blocking() -> TracedRequest:
        release.wait(10)
        return TracedRequest()

    window.offer(blocking, 60)  # taken by the worker, its bytes held until counted
    wait_for(lambda: window._pending.empty(), what="the worker to take the first copy")
    assert not window.has_room(60)
    window.offer(blocking, 60)  # dropped at once: 120 bytes would be waiting
    assert window.dropped_requests == 1
    release.set()
    window.wait_until_counted()
    assert window.has_room(100)
    window.offer(TracedRequest, 60)
    window.wait_until_counted()
    assert window.dropped_requests == 1
    assert window.snapshot().skipped_requests == 3  # two empty requests, one drop


@pytest.fixture
def tight_receiver(churn: ModelMetadata) -> Iterator[MirrorReceiver]:
    window = MirroredWindow(churn, 3600.0, 0.2, max_pending_bytes=1000)
    with MirrorReceiver(window, "127.0.0.1", 0, None) as running:
        yield running


def test_a_body_the_queue_has_no_room_for_is_refused_unread(
    tight_receiver: MirrorReceiver,
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", tight_receiver.http_port, timeout=5)
    # Only the headers: the receiver answers without waiting for the 5000 bytes.
    connection.putrequest("POST", "/v2/models/churn/infer")
    connection.putheader("Content-Length", "5000")
    connection.endheaders()
    assert connection.getresponse().status == 503
    connection.close()
    tight_receiver.window.wait_until_counted()
    assert tight_receiver.window.snapshot().skipped_requests == 1


def test_a_batch_counted_in_parts_adds_up_to_the_whole(
    churn: ModelMetadata, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mirror, "MAX_VALUES_PER_REQUEST", 1)  # count after every request
    window = MirroredWindow(churn, 3600.0, 0.2)
    columns = churn.input_schema.columns
    row = {
        column.tensor_name: ["paris"] if column.kind == "categorical" else [1.0]
        for column in columns
    }
    gate = threading.Event()

    def first() -> TracedRequest:
        gate.wait(10)
        return TracedRequest(inputs=dict(row))

    window.offer(first)
    for _ in range(4):
        window.offer(lambda: TracedRequest(inputs=dict(row)))
    window.offer(lambda: (_ for _ in ()).throw(UnreadableRequestError("no")))
    gate.set()
    window.wait_until_counted()
    snapshot = window.snapshot()
    assert snapshot.counts.rows == 5
    assert snapshot.sampled_requests == 5
    assert snapshot.skipped_requests == 1


def _raw_post(port: int, head: bytes) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port), timeout=5)
    connection.sendall(b"POST /v2/models/churn/infer HTTP/1.1\r\nHost: x\r\n" + head)
    return connection


def _status(connection: socket.socket) -> int:
    answer = connection.recv(4096)
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize(
    "chunks",
    [b"-1\r\n", b"0\r\n" + b"X-Trailer: 1\r\n" * 100 + b"\r\n"],
    ids=["negative-chunk-size", "endless-trailers"],
)
def test_hostile_chunked_bodies_are_refused(tight_receiver: MirrorReceiver, chunks: bytes) -> None:
    assert tight_receiver.http_port is not None
    connection = _raw_post(tight_receiver.http_port, b"Transfer-Encoding: chunked\r\n\r\n" + chunks)
    assert _status(connection) == 400
    connection.close()


def test_a_slow_sender_holds_the_only_reader_no_longer_than_the_deadline(
    churn: ModelMetadata, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mirror_endpoints, "HTTP_READERS", 1)
    monkeypatch.setattr(mirror_endpoints, "READER_WAIT_SECONDS", 0.2)
    monkeypatch.setattr(mirror_endpoints, "BODY_DEADLINE_SECONDS", 1.0)
    window = MirroredWindow(churn, 3600.0, 0.2)
    with MirrorReceiver(window, "127.0.0.1", 0, None) as receiver:
        port = receiver.http_port
        assert port is not None
        slow = _raw_post(port, b"Content-Length: 100\r\n\r\n" + b"{" * 10)

        def refused_meanwhile() -> bool:
            # A POST elsewhere needs a reader too but is never counted: 404 once read.
            other = socket.create_connection(("127.0.0.1", port), timeout=5)
            other.sendall(b"POST /elsewhere HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            refused = _status(other) == 503
            other.close()
            return refused

        # While the slow body holds the one reader, other copies are refused at once.
        wait_for(refused_meanwhile, timeout=10, what="a copy refused while the reader is held")
        time.sleep(1.1)  # past the slow body's deadline (the setup, not the assertion)
        slow.sendall(b"{")
        assert _status(slow) == 408
        slow.close()
        window.wait_until_counted()
        assert window.snapshot().skipped_requests == 1


def test_a_grpc_message_over_the_bound_is_refused_before_the_window(
    churn: ModelMetadata,
) -> None:
    window = MirroredWindow(churn, 3600.0, 0.2)
    with MirrorReceiver(window, "127.0.0.1", None, 0) as receiver:
        channel = grpc.insecure_channel(f"127.0.0.1:{receiver.grpc_port}")
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        message = service_pb2.ModelInferRequest(model_name="churn")
        message.inputs.add(name="age", datatype="FP32", shape=[1, 1])
        message.raw_input_contents.append(b"\0" * (mirror_endpoints.GRPC_MAX_MESSAGE_BYTES + 1))
        with pytest.raises(grpc.RpcError) as refused:
            stub.ModelInfer(message, timeout=10)
        channel.close()
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        window.wait_until_counted()
        assert window.snapshot().skipped_requests == 0  # never reached the window


def test_connections_beyond_the_bound_are_closed_without_a_thread(
    churn: ModelMetadata, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mirror_endpoints, "MAX_CONNECTIONS", 1)
    window = MirroredWindow(churn, 3600.0, 0.2)
    with MirrorReceiver(window, "127.0.0.1", 0, None) as receiver:
        port = receiver.http_port
        assert port is not None
        ready = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        held = socket.create_connection(("127.0.0.1", port), timeout=5)
        held.sendall(ready)
        assert _status(held) == 200  # kept alive: it holds the one connection
        extra = socket.create_connection(("127.0.0.1", port), timeout=5)
        extra.sendall(ready)
        try:
            closed = extra.recv(4096) == b""  # closed unanswered
        except ConnectionResetError:
            closed = True
        assert closed
        extra.close()
        held.close()

        def answered() -> bool:
            again = socket.create_connection(("127.0.0.1", port), timeout=5)
            try:
                again.sendall(ready)
                return again.recv(4096).startswith(b"HTTP/1.1 200")
            except OSError:
                return False
            finally:
                again.close()

        wait_for(answered, timeout=10, what="a connection once the held one closed")
