"""Benchmark of drift on live traffic through a mirrored sample (issue 11 item 1; not a test).

Packages the synthetic pipeline (8 numeric columns, 2 categorical; reference profile of
5,000 training rows) and serves it on the real Triton binary, untouched. The load
generator plays the gateway's RequestMirror: for a random --mirror-percent of requests it
sends a copy of the request to the mirror receiver without waiting for it (an asyncio
task beside the request to Triton, as the gateway's copy runs beside the routed one).
The receiver is the real `modelship drift-watch` in mirror mode, on this machine, so its
CPU cost is included. Then:

1. throughput: one-row gRPC requests at concurrency 1 and 16, without and with the
   mirror, --rounds times, alternating, the median of each;
2. detection: one-row requests with x1 shifted by one reference standard deviation, in
   steps of --step requests, until the receiver's window flags x1 (--trials trials, a
   fresh receiver each);
3. false alarms: 20 windows of unshifted 10-row requests (a fresh receiver each, judged
   once it holds --window-rows rows), and the significance gate alone over 1,000 windows
   drawn without Triton at 100 to 400 rows, to see the rate behind "none in 20".

    PYTHONPATH=tests:hack/bench .venv/bin/python hack/bench/live_drift_mirror_bench.py
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pandas as pd
from live_drift_bench import (
    SHIFTED,
    bench_arguments,
    package_synthetic,
    print_detection,
    shifted,
    simulated_false_alarms,
)
from modelship_serving.live_drift.judgement import MIN_WINDOW_ROWS
from modelship_serving.live_drift.mirror import COUNT_INTERVAL_SECONDS, MirroredWindow
from modelship_serving.live_drift.mirror_endpoints import MirrorReceiver
from modelship_serving.metadata import ModelMetadata
from modelship_serving.packaging.schema import column_array
from modelship_serving.triton.server import TritonServer, TritonServerSettings, free_port
from support.live_drift import drift_watch_process
from synthetic import make_data

MODEL = "model"
MODEL_INFER = "/inference.GRPCInferenceService/ModelInfer"


def request_bytes(frame: pd.DataFrame, metadata: ModelMetadata) -> bytes:
    """A serialised gRPC ModelInferRequest for ``frame``'s rows (raw contents, as
    tritonclient sends them): what the gateway forwards, and copies, byte for byte."""
    from tritonclient.grpc import service_pb2
    from tritonclient.utils import serialize_byte_tensor

    request = service_pb2.ModelInferRequest(model_name=MODEL)
    for column in metadata.input_schema.columns:
        array = column_array(frame[column.name], column)
        request.inputs.add(name=column.tensor_name, datatype=column.datatype, shape=array.shape)
        raw = serialize_byte_tensor(array).item() if column.datatype == "BYTES" else array.tobytes()
        request.raw_input_contents.append(raw)
    serialised: bytes = request.SerializeToString()
    return serialised


def requests_of(frame: pd.DataFrame, metadata: ModelMetadata, rows: int) -> list[bytes]:
    """One request per ``rows`` rows of ``frame``."""
    return [
        request_bytes(frame.iloc[start : start + rows], metadata)
        for start in range(0, len(frame) - rows + 1, rows)
    ]


async def load(
    triton: str,
    mirror: str | None,
    requests: list[bytes],
    concurrency: int,
    percent: float,
    seconds: float | None = None,
    count: int | None = None,
    seed: int = 0,
) -> tuple[float, int]:
    """Requests per second to Triton, a copy of ``percent``% of them sent to ``mirror``
    without waiting, and the number of copies; runs for ``seconds`` or ``count``
    requests, then waits for the copies. Requests go out as bytes, over plain gRPC
    channels: the load generator spends no time building them."""
    import grpc

    async with AsyncExitStack() as stack:
        channel = await stack.enter_async_context(grpc.aio.insecure_channel(triton))
        infer = channel.unary_unary(MODEL_INFER)
        copy_infer = None
        if mirror is not None:
            mirror_channel = await stack.enter_async_context(grpc.aio.insecure_channel(mirror))
            copy_infer = mirror_channel.unary_unary(MODEL_INFER)
        copies: set[asyncio.Future[Any]] = set()
        rng = random.Random(seed)
        sent = copied = 0

        def more() -> bool:
            if count is not None:
                return sent < count
            return time.perf_counter() < stop_at

        async def worker(offset: int) -> None:
            nonlocal sent, copied
            index = offset
            while more():
                sent += 1
                request = requests[index % len(requests)]
                if copy_infer is not None and rng.random() * 100 < percent:
                    copied += 1
                    copy = asyncio.ensure_future(copy_infer(request))
                    copies.add(copy)
                    copy.add_done_callback(copies.discard)
                await infer(request)
                index += concurrency

        for request in requests[:20]:  # warm up
            await infer(request)
        began = time.perf_counter()
        stop_at = began + (seconds or 0.0)
        await asyncio.gather(*(worker(offset) for offset in range(concurrency)))
        rate = sent / (time.perf_counter() - began)
        await asyncio.gather(*copies, return_exceptions=True)
    return rate, copied


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def throughput(
    triton: str,
    mirror: str,
    receiver_pid: int,
    inputs: list[bytes],
    concurrency: int,
    percent: float,
    seconds: float,
    rounds: int,
) -> tuple[list[float], list[float], float]:
    """Rates without and with the mirror, and the receiver's CPU seconds per copy."""
    off: list[float] = []
    on: list[float] = []
    copies, receiver_cpu = 0, 0.0
    for _ in range(rounds):
        off.append(asyncio.run(load(triton, None, inputs, concurrency, percent, seconds))[0])
        before = cpu_seconds(receiver_pid)
        rate, copied = asyncio.run(load(triton, mirror, inputs, concurrency, percent, seconds))
        time.sleep(2 * COUNT_INTERVAL_SECONDS)  # the last copies counted
        receiver_cpu += cpu_seconds(receiver_pid) - before
        copies += copied
        on.append(rate)
        print(f"  c={concurrency}: off {off[-1]:.0f}, on {on[-1]:.0f}", file=sys.stderr)
    return off, on, receiver_cpu / max(copies, 1)


def pin(pid: int, cpus: set[int]) -> None:
    """Every thread of process ``pid`` onto ``cpus`` (threads it starts later inherit)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setaffinity(int(task.name), cpus)


def with_receiver(metadata: ModelMetadata, use: Callable[[MirrorReceiver], Any]) -> Any:
    with MirrorReceiver(MirroredWindow(metadata, 3600.0, 0.2), "127.0.0.1", None, 0) as receiver:
        return use(receiver)


def detection_trial(
    triton: str, metadata: ModelMetadata, inputs: list[bytes], percent: float, step: int, seed: int
) -> tuple[int, int, list[str]]:
    """Requests sent until x1 is flagged, the mirrored rows then in the window, and what
    else was flagged."""

    def trial(receiver: MirrorReceiver) -> tuple[int, int, list[str]]:
        mirror = f"127.0.0.1:{receiver.grpc_port}"
        sent = 0
        while sent < 100_000:
            rotated = inputs[sent % len(inputs) :] + inputs[: sent % len(inputs)]
            asyncio.run(load(triton, mirror, rotated, 16, percent, count=step, seed=seed + sent))
            sent += step
            receiver.window.wait_until_counted()
            snapshot = receiver.window.snapshot()
            if SHIFTED in snapshot.report.drifted_features:
                others = [name for name in snapshot.report.drifted_features if name != SHIFTED]
                return sent, snapshot.counts.rows, others
        raise RuntimeError(f"{SHIFTED} was not flagged within 100,000 requests")

    result: tuple[int, int, list[str]] = with_receiver(metadata, trial)
    return result


def false_alarm_window(
    triton: str,
    metadata: ModelMetadata,
    inputs: list[bytes],
    percent: float,
    window_rows: int,
    seed: int,
) -> list[str]:
    """Drifted features of one window of unshifted traffic of ``window_rows`` rows."""

    def window(receiver: MirrorReceiver) -> list[str]:
        mirror = f"127.0.0.1:{receiver.grpc_port}"
        sent = 0
        while receiver.window.snapshot().counts.rows < window_rows:
            rotated = inputs[sent % len(inputs) :] + inputs[: sent % len(inputs)]
            asyncio.run(load(triton, mirror, rotated, 16, percent, count=200, seed=seed + sent))
            sent += 200
            receiver.window.wait_until_counted()
        drifted: list[str] = receiver.window.snapshot().report.drifted_features
        return drifted

    result: list[str] = with_receiver(metadata, window)
    return result


def main() -> None:
    parser = bench_arguments(__doc__, seconds=6.0, step=200)
    parser.add_argument("--mirror-percent", type=float, default=10.0)
    parser.add_argument("--simulated-windows", type=int, default=1000)
    parser.add_argument(
        "--simulated-rows", type=int, nargs="+", default=[100, 200, 300, 400], metavar="ROWS"
    )
    parser.add_argument(
        "--receiver-cpu",
        type=int,
        help="give the receiver this CPU alone, as its own pod would have, and Triton, its"
        " backend and the load generator (which sends the copies, as the gateway does) the"
        " others, in both modes",
    )
    parser.add_argument(
        "--client-with-receiver",
        action="store_true",
        help="with --receiver-cpu: the load generator (the gateway's stand-in) runs on the"
        " receiver's CPU too, so Triton has its CPUs to itself, as a serving pod would",
    )
    arguments = parser.parse_args()
    percent = arguments.mirror_percent
    serving_cpus = os.sched_getaffinity(0)
    if arguments.receiver_cpu is not None:
        serving_cpus = serving_cpus - {arguments.receiver_cpu}
        os.sched_setaffinity(0, serving_cpus)  # before Triton starts: it inherits them

    with tempfile.TemporaryDirectory(prefix="live-drift-mirror-bench-") as workdir:
        work = Path(workdir)
        repository, metadata = package_synthetic(work, MODEL)
        single_rows = requests_of(make_data(2000, 2), metadata, 1)
        rates: dict[int, tuple[list[float], list[float], float]] = {}
        trials: list[tuple[int, int, list[str]]] = []
        windows: list[list[str]] = []
        with TritonServer(TritonServerSettings(repository=repository)) as server:
            assert server.endpoints is not None
            triton = server.endpoints.grpc
            if arguments.receiver_cpu is not None and arguments.client_with_receiver:
                os.sched_setaffinity(0, {arguments.receiver_cpu})  # Triton keeps the rest
            if not arguments.skip_throughput:
                mirror_port = free_port()
                with drift_watch_process(
                    repository,
                    MODEL,
                    free_port(),
                    "--mirror-address",
                    "127.0.0.1",
                    "--mirror-grpc-port",
                    str(mirror_port),
                    "--mirror-http-port",
                    str(free_port()),
                    quiet=True,
                ) as receiver:
                    time.sleep(3)  # its imports
                    if arguments.receiver_cpu is not None:
                        pin(receiver.pid, {arguments.receiver_cpu})
                    for concurrency in (1, 16):
                        rates[concurrency] = throughput(
                            triton,
                            f"127.0.0.1:{mirror_port}",
                            receiver.pid,
                            single_rows,
                            concurrency,
                            percent,
                            arguments.seconds,
                            arguments.rounds,
                        )
            if not arguments.skip_detection:
                shifted_rows = requests_of(shifted(make_data(5000, 3), metadata, 1.0), metadata, 1)
                for trial in range(arguments.trials):
                    rotated = shifted_rows[trial * 997 :] + shifted_rows[: trial * 997]
                    trials.append(
                        detection_trial(
                            triton, metadata, rotated, percent, arguments.step, seed=trial * 7919
                        )
                    )
                    print(f"  trial {trial}: {trials[-1]}", file=sys.stderr)
                frame = make_data(40_000, 4)
                ten_rows = requests_of(frame, metadata, 10)
                for index in range(20):
                    offset = index * 197
                    rotated = ten_rows[offset:] + ten_rows[:offset]
                    windows.append(
                        false_alarm_window(
                            triton,
                            metadata,
                            rotated,
                            percent,
                            arguments.window_rows,
                            seed=index * 100_003,
                        )
                    )
        simulated = {
            rows: simulated_false_alarms(metadata, arguments.simulated_windows, rows)
            for rows in arguments.simulated_rows
        }

    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average"
        f" {os.getloadavg()[0]:.2f} at the end; mirror {percent:g}% over gRPC; reference 5000"
        " rows, 10 features"
        + (
            f"; receiver on CPU {arguments.receiver_cpu}"
            + (" with the load generator" if arguments.client_with_receiver else " alone")
            + f", Triton on {sorted(serving_cpus)}"
            if arguments.receiver_cpu is not None
            else "; everything shares every CPU"
        )
    )
    if rates:
        print()
        print(
            "| concurrency | without the mirror req/s | with | ratio of medians"
            " | median of round ratios | runs (off/on) | receiver CPU per copy |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for concurrency, (off, on, cpu_per_copy) in rates.items():
            median_off, median_on = statistics.median(off), statistics.median(on)
            # Each round's pair ran back to back: its ratio is less swayed by what else the
            # machine did between rounds.
            round_ratio = statistics.median(b / a for a, b in zip(off, on, strict=True))
            runs = ", ".join(f"{a:.0f}/{b:.0f}" for a, b in zip(off, on, strict=True))
            print(
                f"| {concurrency} | {median_off:.0f} | {median_on:.0f}"
                f" | {median_on / median_off:.3f} | {round_ratio:.3f} | {runs}"
                f" | {cpu_per_copy * 1e6:.0f} us |"
            )
    if trials:
        print()
        print_detection(
            trials,
            windows,
            f"one-row requests, {percent:g}% mirrored, checked every {arguments.step} requests",
            f"{arguments.window_rows}+",
            "mirrored",
        )
    print(
        f"judged once a window holds {MIN_WINDOW_ROWS} rows; by drift_report's gate alone"
        " (pooled bins, no floor), windows drawn like the reference with any feature flagged,"
        f" of {arguments.simulated_windows}: "
        + ", ".join(f"{count} at {size} rows" for size, count in simulated.items())
    )


if __name__ == "__main__":
    main()
