"""Does Triton survive concurrent load with input tracing on? (not a test)

Serves the synthetic pipeline on the real Triton binary, with the serving pod's trace
flags (`--tracing`: level TENSORS, one request in 10, no trace limit, files deleted
twice a second as the sidecar would) or without, and sends one-row HTTP requests from
16 threads for --seconds. Prints the requests sent, how many failed, the first
failures, and the end of Triton's log (a crash shows there as `Signal (11) received`).

    PYTHONPATH=tests .venv/bin/python hack/bench/trace_stress.py --seconds 90 --tracing
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import joblib
import tritonclient.http as triton_http
from modelship.builders.live_drift import triton_trace_args
from modelship_serving.packaging.package import package_model
from modelship_serving.triton.client import infer_inputs
from modelship_serving.triton.server import TritonServer, TritonServerSettings
from synthetic import make_data, train

CONCURRENCY = 16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--tracing", action="store_true")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="trace-stress-") as workdir:
        work = Path(workdir)
        sample = make_data(5000, 1)
        joblib.dump(train(sample), work / "model.joblib")
        sample.to_csv(work / "sample.csv", index=False)
        metadata = package_model(
            work / "model.joblib", work / "sample.csv", "model", "1", work / "repo"
        ).metadata
        traces = work / "traces"
        traces.mkdir()
        flags = triton_trace_args(10, str(traces / "trace.json"), 20, -1)
        frame = make_data(2000, 2)
        requests = [
            infer_inputs(frame.iloc[[i]], metadata.input_schema, triton_http.InferInput)
            for i in range(len(frame))
        ]
        failures: list[str] = []
        sent = [0] * CONCURRENCY
        stop = threading.Event()
        settings = TritonServerSettings(
            repository=work / "repo", extra_args=flags if arguments.tracing else []
        )
        with TritonServer(settings) as server:
            assert server.endpoints is not None
            url = server.endpoints.http

            def delete_traces() -> None:
                while not stop.wait(0.5):
                    for path in traces.iterdir():
                        path.unlink(missing_ok=True)

            def worker(offset: int) -> None:
                client = triton_http.InferenceServerClient(url)
                end = time.monotonic() + arguments.seconds
                index = offset
                while time.monotonic() < end:
                    try:
                        client.infer("model", requests[index % len(requests)])
                    except Exception as error:  # each failure is what is measured
                        failures.append(str(error)[:160])
                    sent[offset] += 1
                    index += CONCURRENCY

            threading.Thread(target=delete_traces, daemon=True).start()
            with ThreadPoolExecutor(CONCURRENCY) as pool:
                list(pool.map(worker, range(CONCURRENCY)))
            stop.set()
            print(
                f"tracing {'on' if arguments.tracing else 'off'}: {sum(sent)} requests,"
                f" {len(failures)} failed; first failures: {sorted(set(failures))[:3]}"
            )
            print(server.log_tail(12))


if __name__ == "__main__":
    main()
