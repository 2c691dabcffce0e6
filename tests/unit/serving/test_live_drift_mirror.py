"""Drift on live traffic from a gateway's mirrored copies of inference requests.

Proves: the model's inputs are read out of every form a KServe v2 client sends (HTTP
JSON, flat or nested; Triton's binary-tensor extension, gzip-compressed too; gRPC typed
contents and raw contents), other tensors are ignored, and a body that cannot be read
raises one error the receiver counts as skipped; a category sent as "" (how a missing one
travels) counts as missing, as the reference counted it; over real sockets the receiver answers
at once on any model name, counts what it reads (chunked bodies too), skips what it
cannot, refuses an oversized body without reading it, drops rather
than queues without bound, answers its probes, and `modelship drift-watch` in mirror
mode serves the drift of the mirrored traffic as metrics, refuses two sources or none,
and says in one line which port it cannot listen on.
"""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http
from click.testing import CliRunner
from modelship.cli import main
from modelship_serving.live_drift.counting import count_requests
from modelship_serving.live_drift.mirror import MirroredWindow
from modelship_serving.live_drift.mirror_endpoints import MirrorReceiver
from modelship_serving.live_drift.traces import TracedRequest
from modelship_serving.live_drift.v2_requests import (
    UnreadableRequestError,
    decoded_body,
    grpc_request_inputs,
    http_request_inputs,
)
from modelship_serving.metadata import ModelMetadata
from modelship_serving.triton.client import infer_inputs
from modelship_serving.triton.server import free_port
from support.live_drift import package_churn, traffic, wait_for
from tritonclient.grpc import service_pb2
from tritonclient.utils import serialize_byte_tensor

WANTED = frozenset({"age", "city"})
CHURN_ROW = [
    {"name": "age", "shape": [1, 1], "datatype": "INT64", "data": [30]},
    {"name": "income", "shape": [1, 1], "datatype": "FP32", "data": [50000]},
    {"name": "city", "shape": [1, 1], "datatype": "BYTES", "data": ["paris"]},
    {"name": "plan", "shape": [1, 1], "datatype": "BYTES", "data": ["pro"]},
]


@pytest.fixture(scope="module")
def churn_package(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ModelMetadata]:
    return package_churn(tmp_path_factory.mktemp("churn"))


@pytest.fixture(scope="module")
def churn(churn_package: tuple[Path, ModelMetadata]) -> ModelMetadata:
    return churn_package[1]


def json_body(inputs: list[dict[str, Any]]) -> bytes:
    return json.dumps({"id": "1", "inputs": inputs}).encode()


def test_json_inputs_are_read_flat_or_nested_and_other_tensors_ignored() -> None:
    body = json_body(
        [
            {"name": "age", "shape": [2, 1], "datatype": "FP32", "data": [[30], [40.5]]},
            {"name": "city", "shape": [2, 1], "datatype": "BYTES", "data": ["paris", "lyon"]},
            {"name": "extra", "shape": [1], "datatype": "FP32", "data": ["not even a number"]},
        ]
    )

    request = http_request_inputs(body, None, WANTED)

    assert request.inputs == {"age": [30.0, 40.5], "city": ["paris", "lyon"]}


def test_binary_tensors_are_read_after_the_json_header_as_tritonclient_sends_them() -> None:
    age = triton_http.InferInput("age", [3, 1], "FP32")
    age.set_data_from_numpy(np.array([[30.0], [np.nan], [70.0]], dtype=np.float32))
    city = triton_http.InferInput("city", [3, 1], "BYTES")
    city.set_data_from_numpy(np.array([["paris"], [""], ["nice"]], dtype=object))
    body, header_length = triton_http.InferenceServerClient.generate_request_body([age, city])

    request = http_request_inputs(body, header_length, WANTED)

    assert request.inputs["city"] == ["paris", "", "nice"]
    ages = request.inputs["age"]
    assert ages[::2] == [30.0, 70.0]
    assert np.isnan(ages[1])
    compressed = decoded_body(gzip.compress(body), "gzip")
    assert http_request_inputs(compressed, header_length, WANTED).inputs["city"] == [
        "paris",
        "",
        "nice",
    ]


def test_grpc_typed_and_raw_contents_are_read() -> None:
    typed = service_pb2.ModelInferRequest(model_name="churn")
    age = typed.inputs.add(name="age", datatype="INT64", shape=[2, 1])
    age.contents.int64_contents.extend([30, 40])
    city = typed.inputs.add(name="city", datatype="BYTES", shape=[2, 1])
    city.contents.bytes_contents.extend([b"paris", b"lyon"])

    raw = service_pb2.ModelInferRequest(model_name="churn")
    raw.inputs.add(name="age", datatype="FP16", shape=[2, 1])
    raw.inputs.add(name="city", datatype="BYTES", shape=[2, 1])
    raw.raw_input_contents.extend(
        [
            np.array([30, 40], dtype="<f2").tobytes(),
            serialize_byte_tensor(np.array([b"paris", b"lyon"], dtype=object)).item(),
        ]
    )

    for message in (typed, raw):
        request = grpc_request_inputs(message, WANTED)
        assert request.inputs == {"age": [30.0, 40.0], "city": ["paris", "lyon"]}


@pytest.mark.parametrize(
    ("body", "header_length"),
    [
        (b"not json", None),
        (b'{"inputs": {"age": 1}}', None),
        (json_body([{"name": "age", "shape": [2, 1], "datatype": "FP32", "data": [1]}]), None),
        (json_body([{"name": "age", "shape": [1], "datatype": "FP32", "data": ["x"]}]), None),
        (json_body([{"name": "age", "shape": [1], "datatype": "BF17", "data": [1]}]), None),
        (json_body([{"name": "age", "shape": [1], "datatype": "FP32"}]), None),
        (json_body([{"name": "city", "shape": [1], "datatype": "BYTES", "data": [1]}]), None),
        (
            json_body(
                [
                    {
                        "name": "age",
                        "shape": [1],
                        "datatype": "FP32",
                        "parameters": {"binary_data_size": 400},
                    }
                ]
            ),
            None,
        ),
        (json_body([]) + b"\x01\x02", 10_000),
    ],
    ids=[
        "not-json",
        "inputs-not-a-list",
        "count-unlike-shape",
        "text-in-a-number",
        "unknown-datatype",
        "no-data",
        "number-in-bytes",
        "binary-beyond-body",
        "header-beyond-body",
    ],
)
def test_unreadable_http_bodies_raise_one_error(body: bytes, header_length: int | None) -> None:
    with pytest.raises(UnreadableRequestError):
        http_request_inputs(body, header_length, WANTED)


def test_unreadable_grpc_messages_and_encodings_raise_one_error() -> None:
    truncated = service_pb2.ModelInferRequest()
    truncated.inputs.add(name="city", datatype="BYTES", shape=[1, 1])
    truncated.raw_input_contents.append(b"\x09\x00\x00\x00par")
    with pytest.raises(UnreadableRequestError):
        grpc_request_inputs(truncated, WANTED)
    with pytest.raises(UnreadableRequestError):
        decoded_body(b"not gzip", "gzip")
    with pytest.raises(UnreadableRequestError):
        decoded_body(b"{}", "br")


@pytest.fixture
def receiver(churn: ModelMetadata) -> Iterator[MirrorReceiver]:
    with MirrorReceiver(MirroredWindow(churn, 3600.0, 0.2), "127.0.0.1", 0, 0) as running:
        yield running


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(response.status), bytes(response.read())


def test_the_receiver_counts_mirrored_copies_of_every_protocol_on_any_model_name(
    receiver: MirrorReceiver, churn: ModelMetadata
) -> None:
    rows = traffic(10, seed=1)
    http = triton_http.InferenceServerClient(f"127.0.0.1:{receiver.http_port}")
    grpc = triton_grpc.InferenceServerClient(f"127.0.0.1:{receiver.grpc_port}")
    http.infer("any-name", infer_inputs(rows, churn.input_schema, triton_http.InferInput))
    grpc.infer("churn", infer_inputs(rows, churn.input_schema, triton_grpc.InferInput))
    infer_url = f"http://127.0.0.1:{receiver.http_port}/v2/models/churn/versions/3/infer"
    assert post(infer_url, json_body(CHURN_ROW)) == (200, b"{}")
    assert post(infer_url, b"garbage") == (200, b"{}")
    grpc.close()
    http.close()

    receiver.window.wait_until_counted()
    snapshot = receiver.window.snapshot()

    assert snapshot.counts.rows == 21
    assert snapshot.sampled_requests == 3
    assert snapshot.skipped_requests == 1
    assert snapshot.counts.categorical["city"].category_counts["paris"] >= 1


def test_chunked_bodies_are_read_and_oversized_ones_refused_unread(
    receiver: MirrorReceiver,
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", receiver.http_port, timeout=5)
    body = json_body(CHURN_ROW)
    connection.request(
        "POST", "/v2/models/churn/infer", body=iter([body[:10], body[10:]]), encode_chunked=True
    )
    assert connection.getresponse().read() == b"{}"
    # Only the headers of a 100 MB body: the receiver answers without waiting for it.
    connection.putrequest("POST", "/v2/models/churn/infer")
    connection.putheader("Content-Length", str(100_000_000))
    connection.endheaders()
    assert connection.getresponse().status == 413
    connection.close()

    receiver.window.wait_until_counted()
    snapshot = receiver.window.snapshot()

    assert snapshot.sampled_requests == 1
    assert snapshot.counts.rows == 1
    assert snapshot.skipped_requests == 1


def test_probes_answer_and_other_paths_do_not_count(receiver: MirrorReceiver) -> None:
    base = f"http://127.0.0.1:{receiver.http_port}"
    for path in ("/v2/health/ready", "/healthz"):
        with urllib.request.urlopen(base + path, timeout=5) as response:
            assert response.status == 200
    with pytest.raises(urllib.error.HTTPError, match="404"):
        post(base + "/v2/repository/index", b"{}")
    receiver.window.wait_until_counted()
    assert receiver.window.snapshot().skipped_requests == 0


def test_a_full_queue_drops_and_counts_rather_than_waits(churn: ModelMetadata) -> None:
    window = MirroredWindow(churn, 3600.0, 0.2, queue_size=1)
    release = threading.Event()

    def blocking() -> TracedRequest:
        release.wait(10)
        return TracedRequest()

    window.offer(blocking)  # taken by the worker, which then waits
    wait_for(lambda: window._pending.empty(), what="the worker to take the first copy")
    window.offer(blocking)  # fills the queue
    window.offer(blocking)  # dropped at once
    assert window.dropped_requests == 1
    release.set()
    window.wait_until_counted()
    assert window.snapshot().skipped_requests == 3  # two empty requests, one drop


def test_drift_watch_in_mirror_mode_serves_the_drift_of_mirrored_traffic(
    churn_package: tuple[Path, ModelMetadata],
) -> None:
    repository, metadata = churn_package
    metrics_port, http_port = free_port(), free_port()
    command = [sys.executable, "-c", "from modelship.cli import main; main()", "drift-watch"]
    args = ["--model-repo", str(repository), "--model", "churn", "--revision", "churn-abc"]
    ports = ["--metrics-address", "127.0.0.1", "--mirror-address", "127.0.0.1"]
    ports += ["--metrics-port", str(metrics_port), "--mirror-http-port", str(http_port)]
    process = subprocess.Popen([*command, *args, *ports, "--window", "1h"])
    try:
        wait_for(lambda: _answers(f"http://127.0.0.1:{http_port}/v2/health/ready"), what="ready")
        client = triton_http.InferenceServerClient(f"127.0.0.1:{http_port}")
        for seed in range(50):
            rows = traffic(10, seed, income_shift_in_std=1.0)
            client.infer("churn", infer_inputs(rows, metadata.input_schema, triton_http.InferInput))
        client.close()
        all_counted = 'modelship_live_drift_window_rows{model="churn",revision="churn-abc"} 500.0'
        wait_for(lambda: all_counted in _metrics(metrics_port), what="500 rows to be counted")
        metrics = _metrics(metrics_port)
        labels = 'model="churn",revision="churn-abc"'
        assert f'modelship_live_drift_drifted{{feature="income",{labels}}} 1.0' in metrics
        assert f'modelship_live_drift_drifted{{feature="age",{labels}}} 0.0' in metrics
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0  # SIGTERM stops it cleanly


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _metrics(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            return str(response.read().decode())
    except OSError:
        return ""


@pytest.mark.parametrize(
    "sources",
    [[], ["--trace-file", "/tmp/t/trace.json", "--mirror-grpc-port", "8005"]],
    ids=["none", "both"],
)
def test_drift_watch_takes_exactly_one_source(
    churn_package: tuple[Path, ModelMetadata], sources: list[str]
) -> None:
    repository, _ = churn_package
    args = ["drift-watch", "--model-repo", str(repository), "--model", "churn", *sources]

    result = CliRunner().invoke(main, args)

    assert result.exit_code == 2
    assert "give exactly one source" in result.output


def test_a_categorical_sent_empty_counts_as_missing_as_the_reference_counted_it(
    churn: ModelMetadata,
) -> None:
    # infer_inputs sends a missing category as "" (the model's input cannot hold None).
    rows = traffic(4, seed=3)
    rows.loc[[0, 1], "city"] = None
    age, income, city, plan = infer_inputs(rows, churn.input_schema, triton_http.InferInput)
    body, header_length = triton_http.InferenceServerClient.generate_request_body(
        [age, income, city, plan]
    )
    request = http_request_inputs(body, header_length, {"age", "income", "city", "plan"})

    counts, skipped = count_requests([request], churn)

    assert skipped == 0
    assert counts.categorical["city"].missing == 2
    assert sum(counts.categorical["city"].category_counts.values()) == 2


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_drift_watch_says_in_one_line_when_a_mirror_port_is_taken(
    churn_package: tuple[Path, ModelMetadata], protocol: str
) -> None:
    repository, _ = churn_package
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["drift-watch", "--model-repo", str(repository), "--model", "churn"]
        args += ["--mirror-address", "127.0.0.1", f"--mirror-{protocol}-port", str(port)]

        result = CliRunner().invoke(main, args)

    assert result.exit_code == 1
    where = f"{protocol.upper().replace('GRPC', 'gRPC')} requests on 127.0.0.1:{port}"
    assert result.output.startswith(f"Error: cannot listen for mirrored {where}")
    assert len(result.output.strip().splitlines()) == 1
