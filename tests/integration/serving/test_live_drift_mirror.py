"""Drift on live traffic from mirrored requests, with the real Triton binary serving.

The test plays the gateway: it sends each request to Triton and, for a random P% of
them, the same request bytes to the mirror receiver without waiting for its answer
(RequestMirror's fire-and-forget copy). Triton runs untouched (no trace flags).

Proves: Triton answers every request while the mirror counts every copy; traffic with
one feature (income) shifted by one standard deviation raises that feature's drift and
no other's, over HTTP with binary tensors and over gRPC; traffic drawn like the
training rows raises none.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http
from modelship_serving.live_drift.exposition import Snapshot
from modelship_serving.live_drift.mirror import MirroredWindow
from modelship_serving.live_drift.mirror_endpoints import HEADER_LENGTH, MirrorReceiver
from modelship_serving.metadata import ModelMetadata
from modelship_serving.triton.client import infer_inputs
from modelship_serving.triton.server import TritonEndpoints, TritonServer, TritonServerSettings
from support.live_drift import package_churn, traffic

pytestmark = pytest.mark.triton

REQUESTS = 120
ROWS_PER_REQUEST = 10
MIRROR_PERCENT = 50
FEATURES = {"age", "income", "city", "plan"}


@dataclass(frozen=True)
class Served:
    endpoints: TritonEndpoints
    metadata: ModelMetadata


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    repository, metadata = package_churn(tmp_path_factory.mktemp("mirror"))
    with TritonServer(TritonServerSettings(repository=repository)) as triton:
        assert triton.endpoints is not None  # started
        yield Served(triton.endpoints, metadata)


@pytest.fixture
def receiver(served: Served) -> Iterator[MirrorReceiver]:
    window = MirroredWindow(served.metadata, 3600.0, 0.2)
    with MirrorReceiver(window, "127.0.0.1", 0, 0) as running:
        yield running


def mirrored(rng: np.random.Generator) -> bool:
    return bool(rng.random() * 100 < MIRROR_PERCENT)


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str | None]:
    """Status, body and inference header length of the answer to a POST."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status), bytes(response.read()), response.headers.get(HEADER_LENGTH)


def serve_over_http(served: Served, receiver: MirrorReceiver, seed: int, shift: float) -> int:
    """Requests to Triton (binary tensors), each copied byte for byte to the mirror P% of
    the time; the number of copies."""
    rng = np.random.default_rng(seed)
    path = f"/v2/models/{served.metadata.name}/infer"
    copies: list[Future[tuple[int, bytes, str | None]]] = []
    with ThreadPoolExecutor(max_workers=2) as gateway:
        for index in range(REQUESTS):
            rows = traffic(ROWS_PER_REQUEST, seed * 1000 + index, shift)
            inputs = infer_inputs(rows, served.metadata.input_schema, triton_http.InferInput)
            body, header_length = triton_http.InferenceServerClient.generate_request_body(inputs)
            headers = {HEADER_LENGTH: str(header_length)}
            if mirrored(rng):
                mirror_url = f"http://127.0.0.1:{receiver.http_port}{path}"
                copies.append(gateway.submit(post, mirror_url, body, headers))
            status, answer, length = post(f"http://{served.endpoints.http}{path}", body, headers)
            assert status == 200
            result = triton_http.InferResult.from_response_body(
                answer, header_length=None if length is None else int(length)
            )
            assert len(result.as_numpy("label")) == ROWS_PER_REQUEST
        assert all(copy.result() == (200, b"{}", None) for copy in copies)
    return len(copies)


def serve_over_grpc(served: Served, receiver: MirrorReceiver, seed: int, shift: float) -> int:
    rng = np.random.default_rng(seed)
    triton = triton_grpc.InferenceServerClient(served.endpoints.grpc)
    mirror = triton_grpc.InferenceServerClient(f"127.0.0.1:{receiver.grpc_port}")
    copies: list[Future[Any]] = []
    with ThreadPoolExecutor(max_workers=2) as gateway:
        for index in range(REQUESTS):
            rows = traffic(ROWS_PER_REQUEST, seed * 1000 + index, shift)
            inputs = infer_inputs(rows, served.metadata.input_schema, triton_grpc.InferInput)
            if mirrored(rng):
                copies.append(gateway.submit(mirror.infer, served.metadata.name, inputs))
            result = triton.infer(served.metadata.name, inputs)
            assert len(result.as_numpy("label")) == ROWS_PER_REQUEST
        for copy in copies:
            copy.result()
    triton.close()
    mirror.close()
    return len(copies)


def counted(receiver: MirrorReceiver, copies: int) -> Snapshot:
    receiver.window.wait_until_counted()
    snapshot = receiver.window.snapshot()
    assert snapshot.sampled_requests == copies
    assert snapshot.skipped_requests == 0
    assert snapshot.counts.rows == copies * ROWS_PER_REQUEST
    return snapshot


@pytest.mark.parametrize(
    ("serve", "seed"), [(serve_over_http, 21), (serve_over_grpc, 22)], ids=["http", "grpc"]
)
def test_a_one_std_income_shift_mirrored_raises_income_drift_alone(
    served: Served, receiver: MirrorReceiver, serve: Any, seed: int
) -> None:
    copies = serve(served, receiver, seed=seed, shift=1.0)
    snapshot = counted(receiver, copies)

    assert snapshot.report.drifted_features == ["income"]
    assert snapshot.report.features["income"].psi > 0.2


@pytest.mark.parametrize("serve", [serve_over_http, serve_over_grpc], ids=["http", "grpc"])
def test_traffic_like_the_training_rows_raises_no_drift(
    served: Served, receiver: MirrorReceiver, serve: Any
) -> None:
    copies = serve(served, receiver, seed=23, shift=0.0)
    snapshot = counted(receiver, copies)

    assert snapshot.counts.rows >= 400  # judged: the window is past its floor
    assert snapshot.report.drifted_features == []
    assert set(snapshot.report.features) == FEATURES
