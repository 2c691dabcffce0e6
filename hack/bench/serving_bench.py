"""Benchmark of online serving of one packaged model (not a test).

Packages one scikit-learn pipeline (mixed numeric/categorical data,
ColumnTransformer + LogisticRegression) twice into one repository:

- ``generated``: the config.pbtxt `modelship package` writes (dynamic batching,
  max_batch_size 64, max queue delay 100 us, one instance);
- ``default``: the same model with Triton's default scheduling (no
  dynamic_batching block: every request runs on its own);

serves both on the real Triton binary (the local build's backends: here the
python backend running onnxruntime, as `modelship serve` does), and sends
single-row requests over gRPC from asyncio clients at concurrency 1 and 16 for
a fixed time each. The ceiling is onnxruntime called in-process on the same
rows: one row per call, and 16 rows per call.

    .venv/bin/python hack/bench/serving_bench.py --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from modelship_serving.metadata import ModelMetadata
from modelship_serving.packaging.package import package_model
from modelship_serving.packaging.parity import onnx_session
from modelship_serving.packaging.schema import frame_to_feeds
from modelship_serving.triton.client import infer_inputs
from modelship_serving.triton.config import ModelConfigOptions
from modelship_serving.triton.server import TritonServer, TritonServerSettings
from synthetic import make_data, train


@dataclass
class Figures:
    name: str
    concurrency: int
    requests: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q))


async def drive(
    url: str, model: str, requests_inputs: list[Any], concurrency: int, seconds: float
) -> Figures:
    import tritonclient.grpc.aio as triton_aio

    client = triton_aio.InferenceServerClient(url)
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        index = offset
        while time.perf_counter() < stop_at:
            inputs = requests_inputs[index % len(requests_inputs)]
            started = time.perf_counter()
            await client.infer(model, inputs)
            latencies.append((time.perf_counter() - started) * 1000)
            index += concurrency

    # warm up, then measure
    for inputs in requests_inputs[:20]:
        await client.infer(model, inputs)
    began = time.perf_counter()
    await asyncio.gather(*(worker(offset) for offset in range(concurrency)))
    elapsed = time.perf_counter() - began
    await client.close()
    return Figures(model, concurrency, len(latencies), elapsed, latencies)


def grpc_inputs(frame: pd.DataFrame, metadata: ModelMetadata) -> list[Any]:
    import tritonclient.grpc as triton_grpc

    return [
        infer_inputs(frame.iloc[[index]], metadata.input_schema, triton_grpc.InferInput)
        for index in range(len(frame))
    ]


def in_process(
    model_file: Path,
    frame: pd.DataFrame,
    metadata: ModelMetadata,
    rows_per_call: int,
    seconds: float,
) -> Figures:
    session = onnx_session(model_file.read_bytes())
    calls = [
        frame_to_feeds(frame.iloc[start : start + rows_per_call], metadata.input_schema)
        for start in range(0, len(frame) - rows_per_call + 1, rows_per_call)
    ]
    for feeds in calls[:20]:
        session.run(None, feeds)
    latencies: list[float] = []
    began = time.perf_counter()
    stop_at = began + seconds
    index = 0
    while time.perf_counter() < stop_at:
        started = time.perf_counter()
        session.run(None, calls[index % len(calls)])
        latencies.append((time.perf_counter() - started) * 1000)
        index += 1
    elapsed = time.perf_counter() - began
    # Count rows, so that "requests" compares with one-row Triton requests.
    return Figures(
        f"onnxruntime in-process, {rows_per_call} row(s)/call",
        1,
        index * rows_per_call,
        elapsed,
        latencies,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring time per scenario")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    arguments = parser.parse_args()

    train_frame, request_frame = make_data(5000, 1), make_data(2000, 2)
    with tempfile.TemporaryDirectory(prefix="serving-bench-") as workdir:
        work = Path(workdir)
        joblib.dump(train(train_frame), work / "model.joblib")
        train_frame.to_csv(work / "sample.csv", index=False)
        generated = package_model(
            work / "model.joblib", work / "sample.csv", "generated", "1", work / "repo"
        )
        package_model(
            work / "model.joblib",
            work / "sample.csv",
            "default",
            "1",
            work / "repo",
            config_options=ModelConfigOptions(dynamic_batching=False),
        )
        metadata = generated.metadata
        prepared = grpc_inputs(request_frame, metadata)
        results: list[Figures] = []
        with TritonServer(TritonServerSettings(repository=work / "repo")) as server:
            assert server.endpoints is not None
            for concurrency in arguments.concurrency:
                for model in ("generated", "default"):
                    results.append(
                        asyncio.run(
                            drive(
                                server.endpoints.grpc,
                                model,
                                prepared,
                                concurrency,
                                arguments.seconds,
                            )
                        )
                    )
                    print(
                        f"  {model} c={concurrency}: {results[-1].rps:.0f} req/s", file=sys.stderr
                    )
        model_file = work / "repo" / "generated" / "1" / "model.onnx"
        ceiling_single = in_process(model_file, request_frame, metadata, 1, arguments.seconds)
        ceiling_batched = in_process(model_file, request_frame, metadata, 16, arguments.seconds)

    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs,"
        f" {arguments.seconds:.0f} s per scenario, one-row requests over gRPC"
    )
    print()
    print("| scenario | concurrency | rows/s | p50 ms | p99 ms |")
    print("| --- | --- | --- | --- | --- |")
    for figures in results:
        label = (
            "generated config (dynamic batching)"
            if figures.name == "generated"
            else "Triton default config (no batching)"
        )
        print(
            f"| Triton, {label} | {figures.concurrency} | {figures.rps:.0f}"
            f" | {figures.percentile(50):.2f} | {figures.percentile(99):.2f} |"
        )
    for figures in (ceiling_single, ceiling_batched):
        print(
            f"| {figures.name} | 1 | {figures.rps:.0f} | {figures.percentile(50):.3f}"
            f" | {figures.percentile(99):.3f} |"
        )
    print()
    by_key = {(f.name, f.concurrency): f for f in results}
    for concurrency in arguments.concurrency:
        gen, default = by_key[("generated", concurrency)], by_key[("default", concurrency)]
        print(
            f"- concurrency {concurrency}:"
            f" generated/default throughput {gen.rps / default.rps:.2f}x,"
            f" p99 {gen.percentile(99) / default.percentile(99):.2f}x;"
            f" generated reaches {gen.rps / ceiling_single.rps:.1%} of in-process one-row calls"
            f" and {gen.rps / ceiling_batched.rps:.1%} of in-process 16-row calls"
        )


if __name__ == "__main__":
    main()
