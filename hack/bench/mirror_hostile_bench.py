"""What the drift-watch mirror receiver's bounds cost, and what they keep out.

1. gRPC copies lost to the call limit (GRPC_MAX_CALLS): 16 clients, 200 small
   ModelInferRequests each, either one at a time per client (as a gateway's mirror
   connections send) or all 200 in flight at once; prints the status of each call.
2. Memory and time of the worst request the bounds let through (1M values as JSON, 1M
   raw BOOL values over gRPC) and of a 1 GiB gzip bomb, by tracemalloc's peak.

Run: PYTHONPATH=tests:serving:operator python hack/bench/mirror_hostile_bench.py
"""

from __future__ import annotations

import collections
import gzip
import json
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from modelship_serving.live_drift.mirror import MirroredWindow
from modelship_serving.live_drift.mirror_endpoints import GRPC_MAX_CALLS, MirrorReceiver
from modelship_serving.live_drift.v2_requests import (
    MAX_VALUES_PER_REQUEST,
    decoded_body,
    grpc_request_inputs,
    http_request_inputs,
)
from support.live_drift import package_churn
from tritonclient.grpc import service_pb2, service_pb2_grpc

CLIENTS = 16
CALLS = 200


def grpc_burst(port: int, all_in_flight: bool) -> collections.Counter[str]:
    request = service_pb2.ModelInferRequest(model_name="churn")
    request.inputs.add(name="age", datatype="INT64", shape=[1, 1]).contents.int64_contents.append(
        30
    )
    outcomes: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()

    def client() -> None:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        sent = [stub.ModelInfer.future(request) for _ in range(CALLS)] if all_in_flight else []
        for index in range(CALLS):
            future = sent[index] if all_in_flight else stub.ModelInfer.future(request)
            try:
                future.result(timeout=30)
                outcome = "ok"
            except grpc.RpcError as error:
                outcome = str(error.code())
            with lock:
                outcomes[outcome] += 1
        channel.close()

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def peak(label: str, action: Callable[[], Any]) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        action()
        outcome = "read"
    except ValueError as error:
        outcome = f"refused ({error})"
    seconds = time.perf_counter() - started
    peak_bytes = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"{label}: {outcome}; peak {peak_bytes / 2**20:.1f} MiB, {seconds:.2f} s")


def main() -> None:
    metadata = package_churn(Path(tempfile.mkdtemp()))[1]
    window = MirroredWindow(metadata, 3600.0, 0.2)
    with MirrorReceiver(window, "127.0.0.1", None, 0) as receiver:
        assert receiver.grpc_port is not None
        for all_in_flight in (False, True):
            started = time.perf_counter()
            outcomes = grpc_burst(receiver.grpc_port, all_in_flight)
            mode = "all in flight" if all_in_flight else "one at a time"
            print(
                f"gRPC, GRPC_MAX_CALLS={GRPC_MAX_CALLS}, {CLIENTS} clients x {CALLS} calls"
                f" {mode}: {dict(outcomes)} in {time.perf_counter() - started:.2f} s"
            )

    values = MAX_VALUES_PER_REQUEST
    body = json.dumps(
        {
            "inputs": [
                {"name": "age", "shape": [values, 1], "datatype": "FP32", "data": [0.5] * values}
            ]
        }
    ).encode()
    peak(
        f"JSON body of {len(body) / 2**20:.1f} MiB, 1M values",
        lambda: http_request_inputs(body, None, {"age"}),
    )
    message = service_pb2.ModelInferRequest()
    message.inputs.add(name="age", datatype="BOOL", shape=[values])
    message.raw_input_contents.append(b"\x01" * values)
    peak("gRPC raw BOOL, 1M values", lambda: grpc_request_inputs(message, {"age"}))
    bomb = gzip.compress(b"\0" * 2**30)
    peak(f"gzip bomb, 1 GiB from {len(bomb) / 2**20:.1f} MiB", lambda: decoded_body(bomb, "gzip"))


if __name__ == "__main__":
    main()
