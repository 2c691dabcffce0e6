"""Benchmark of drift on live traffic (issue 11 item 1; not a test).

Packages the synthetic pipeline (8 numeric columns, 2 categorical; reference profile of
5,000 training rows) and serves it on two real Triton servers side by side: one plain,
one with the serving pod's trace flags (`triton_trace_args`: level TENSORS, one request
in --sample-every, a file every 20 traces) and the real `modelship drift-watch` sidecar
polling its trace directory. Then:

1. throughput: one-row gRPC requests at concurrency 1 and 16 against each server in
   turn, --rounds times, alternating, the median of each;
2. detection: single-row requests with x1 shifted by one reference standard deviation,
   in steps, until the sidecar's code (DriftWatch) flags x1 (--trials trials);
3. false alarms: 20 consecutive windows of unshifted 10-row requests (each window
   --window-rows traced rows), judged one by one; and the same statistic over 1,000
   windows drawn without Triton, to see the rate behind "none in 20".

    PYTHONPATH=tests .venv/bin/python hack/bench/live_drift_bench.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from modelship.builders.live_drift import triton_trace_args
from modelship_serving.drift import BatchCounts, drift_report
from modelship_serving.live_drift.counting import count_requests
from modelship_serving.live_drift.judgement import MIN_WINDOW_ROWS, judge_window
from modelship_serving.live_drift.traces import parse_trace_file
from modelship_serving.live_drift.watch import DriftWatch, grant_trace_budget
from modelship_serving.metadata import ModelMetadata
from modelship_serving.packaging.package import package_model
from modelship_serving.triton.client import infer_inputs
from modelship_serving.triton.server import TritonServer, TritonServerSettings, free_port
from serving_bench import drive, grpc_inputs
from support.live_drift import drift_watch_process
from synthetic import make_data, train

SHIFTED = "x1"
LOG_FREQUENCY = 20
BUDGET = 1000


def shifted(frame: pd.DataFrame, metadata: ModelMetadata, in_std: float) -> pd.DataFrame:
    moved = frame.copy()
    std = metadata.reference_profile.numeric[SHIFTED].std
    assert std is not None
    moved[SHIFTED] = moved[SHIFTED] + in_std * std
    return moved


def package_synthetic(work: Path, model: str) -> tuple[Path, ModelMetadata]:
    """The synthetic pipeline trained on 5,000 rows and packaged as ``model`` into
    ``work``/repo; its reference profile is those rows."""
    train_frame = make_data(5000, 1)
    joblib.dump(train(train_frame), work / "model.joblib")
    train_frame.to_csv(work / "sample.csv", index=False)
    repository = work / "repo"
    metadata = package_model(work / "model.joblib", work / "sample.csv", model, "1", repository)
    return repository, metadata.metadata


def bench_arguments(description: str, seconds: float, step: int) -> argparse.ArgumentParser:
    """The options both live drift benchmarks take (``seconds`` and ``step``: defaults)."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=seconds, help="per throughput run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per mode")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--step", type=int, default=step, help="requests between two checks")
    parser.add_argument("--window-rows", type=int, default=600)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-detection", action="store_true")
    return parser


def print_detection(
    trials: list[tuple[int, int, list[str]]],
    windows: list[list[str]],
    how: str,
    window_rows: str,
    kind: str,
) -> None:
    """The detection trials (``how`` the traffic went) and the false alarm windows of
    ``window_rows`` rows, ``kind`` (traced or mirrored) rows."""
    requests = [sent for sent, _, _ in trials]
    rows = [rows for _, rows, _ in trials]
    print(
        f"1-SD shift of {SHIFTED}, {how}: flagged after {requests} requests (median"
        f" {statistics.median(requests):.0f}), {kind} rows then in the window {rows};"
        f" other features flagged on the way: {[others for _, _, others in trials]}"
    )
    print(
        f"false alarms: {sum(bool(w) for w in windows)} of {len(windows)} windows of"
        f" {window_rows} {kind} rows through Triton (flagged: {windows})"
    )


def measured(url: str, inputs: list[Any], concurrency: int, seconds: float) -> float | str:
    """Requests per second, or what the first failed request said."""
    try:
        return asyncio.run(drive(url, "model", inputs, concurrency, seconds)).rps
    except Exception as error:  # a failed request is the finding, not a crash of the bench
        return f"{type(error).__name__}: {str(error)[:160]}"


def throughput(
    plain: str, watched: str, inputs: list[Any], concurrency: int, seconds: float, rounds: int
) -> tuple[list[float | str], list[float | str]]:
    off: list[float | str] = []
    on: list[float | str] = []
    for _ in range(rounds):
        off.append(measured(plain, inputs, concurrency, seconds))
        on.append(measured(watched, inputs, concurrency, seconds))
        print(f"  c={concurrency}: off {off[-1]}, on {on[-1]}", file=sys.stderr)
    return off, on


def drain(client: Any, inputs: list[Any], trace_dir: Path) -> None:
    """Send requests until Triton writes a file (its pending traces are then none), and
    drop every file."""
    before = len(list(trace_dir.iterdir()))
    index = 0
    while len(list(trace_dir.iterdir())) <= before:
        client.infer("model", inputs[index % len(inputs)])
        index += 1
    time.sleep(0.3)
    for path in trace_dir.iterdir():
        path.unlink()


def detection_trial(
    client: Any, http: str, inputs: list[Any], metadata: ModelMetadata, trace_dir: Path, step: int
) -> tuple[int, int, list[str]]:
    """Requests sent until x1 is flagged, the traced rows then in the window, and what
    else was flagged."""
    watch = DriftWatch(metadata, trace_dir, 3600.0, 0.2, wall_clock=lambda: time.time() + 10)
    sent = 0
    while sent < 50_000:
        for _ in range(step):
            client.infer("model", inputs[sent % len(inputs)])
            sent += 1
        grant_trace_budget(http, BUDGET)
        time.sleep(0.3)  # Triton writes a finished file at once; let it land
        watch.poll()
        report = watch.snapshot.report
        if SHIFTED in report.drifted_features:
            others = [name for name in report.drifted_features if name != SHIFTED]
            return sent, watch.snapshot.counts.rows, others
    raise RuntimeError("x1 was not flagged within 50,000 requests")


def false_alarm_windows(
    client: Any,
    http: str,
    inputs: list[Any],
    metadata: ModelMetadata,
    trace_dir: Path,
    windows: int,
    window_rows: int,
) -> list[list[str]]:
    """Drifted features of each of ``windows`` windows of unshifted traffic."""
    reference = metadata.reference_profile
    flagged: list[list[str]] = []
    counts = BatchCounts.empty(reference)
    sent = 0
    while len(flagged) < windows:
        for _ in range(200):
            client.infer("model", inputs[sent % len(inputs)])
            sent += 1
        grant_trace_budget(http, BUDGET)
        time.sleep(0.3)
        for path in sorted(trace_dir.iterdir(), key=lambda p: int(p.suffix[1:])):
            text = path.read_text()
            path.unlink()
            file_counts, _ = count_requests(parse_trace_file(text), metadata)
            counts.merge(file_counts)
            if counts.rows >= window_rows:
                flagged.append(judge_window(counts, reference, 0.2).drifted_features)
                counts = BatchCounts.empty(reference)
    return flagged[:windows]


def simulated_false_alarms(metadata: ModelMetadata, windows: int, window_rows: int) -> int:
    """Windows with any drifted feature among ``windows`` drawn like the training rows, by
    the significance gate alone (no floor on the window's rows)."""
    reference = metadata.reference_profile
    alarms = 0
    for seed in range(windows):
        counts = BatchCounts.empty(reference)
        counts.add_frame(make_data(window_rows, 10_000 + seed), reference)
        alarms += bool(drift_report(counts, reference, 0.2).drifted_features)
    return alarms


def main() -> None:
    parser = bench_arguments(__doc__, seconds=8.0, step=100)
    parser.add_argument("--sample-every", type=int, default=10)
    arguments = parser.parse_args()

    import tritonclient.grpc as triton_grpc

    with tempfile.TemporaryDirectory(prefix="live-drift-bench-") as workdir:
        work = Path(workdir)
        repository, metadata = package_synthetic(work, "model")
        trace_dir = work / "traces"
        trace_dir.mkdir()
        trace_file = trace_dir / "trace.json"
        flags = triton_trace_args(arguments.sample_every, str(trace_file), LOG_FREQUENCY, BUDGET)
        single_rows = grpc_inputs(make_data(2000, 2), metadata)
        with (
            TritonServer(TritonServerSettings(repository=repository)) as plain,
            TritonServer(TritonServerSettings(repository=repository, extra_args=flags)) as watched,
        ):
            assert plain.endpoints is not None
            assert watched.endpoints is not None
            rates: dict[int, tuple[list[float | str], list[float | str]]] = {}
            if not arguments.skip_throughput:
                with drift_watch_process(
                    repository,
                    "model",
                    free_port(),
                    "--trace-file",
                    str(trace_file),
                    "--triton-http",
                    watched.endpoints.http,
                    "--trace-budget",
                    str(BUDGET),
                    quiet=True,
                ):
                    time.sleep(3)  # the sidecar's imports
                    for concurrency in (1, 16):
                        rates[concurrency] = throughput(
                            plain.endpoints.grpc,
                            watched.endpoints.grpc,
                            single_rows,
                            concurrency,
                            arguments.seconds,
                            arguments.rounds,
                        )

            trials: list[tuple[int, int, list[str]]] = []
            windows: list[list[str]] = []
            if not arguments.skip_detection:
                client = triton_grpc.InferenceServerClient(watched.endpoints.grpc)
                http = watched.endpoints.http
                grant_trace_budget(http, BUDGET)
                shifted_rows = grpc_inputs(shifted(make_data(5000, 3), metadata, 1.0), metadata)
                for trial in range(arguments.trials):
                    drain(client, single_rows, trace_dir)
                    rotated = shifted_rows[trial * 997 :] + shifted_rows[: trial * 997]
                    trials.append(
                        detection_trial(client, http, rotated, metadata, trace_dir, arguments.step)
                    )
                    print(f"  trial {trial}: {trials[-1]}", file=sys.stderr)

                drain(client, single_rows, trace_dir)
                frame = make_data(20_000, 4)
                schema = metadata.input_schema
                ten_rows = [
                    infer_inputs(frame.iloc[start : start + 10], schema, triton_grpc.InferInput)
                    for start in range(0, len(frame), 10)
                ]
                windows = false_alarm_windows(
                    client, http, ten_rows, metadata, trace_dir, 20, arguments.window_rows
                )
        simulated = {
            rows: simulated_false_alarms(metadata, 1000, rows) for rows in (100, 200, 300, 400)
        }

    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; sampleEvery"
        f" {arguments.sample_every}, log-frequency {LOG_FREQUENCY}, reference 5000 rows,"
        " 10 features"
    )
    if rates:
        print()
        print("| concurrency | without drift monitoring req/s | with | ratio | runs (off/on) |")
        print("| --- | --- | --- | --- | --- |")
        for concurrency, (off, on) in rates.items():
            numbers_off = [rate for rate in off if isinstance(rate, float)]
            numbers_on = [rate for rate in on if isinstance(rate, float)]
            median_off = statistics.median(numbers_off) if numbers_off else float("nan")
            median_on = statistics.median(numbers_on) if numbers_on else float("nan")
            runs = ", ".join(f"{_rate(a)}/{_rate(b)}" for a, b in zip(off, on, strict=True))
            print(
                f"| {concurrency} | {median_off:.0f} | {median_on:.0f}"
                f" | {median_on / median_off:.3f} | {runs} |"
            )
        failures = {rate for _, on in rates.values() for rate in on if isinstance(rate, str)}
        for failure in sorted(failures):
            print(f"- with tracing, a run stopped at: {failure}")
    if trials:
        print()
        print_detection(
            trials,
            windows,
            f"one-row requests, checked every {arguments.step} requests",
            str(arguments.window_rows),
            "traced",
        )
    print(
        f"judged once a window holds {MIN_WINDOW_ROWS} rows; without Triton, by drift_report's"
        " gate alone, windows drawn like the reference with any feature flagged, of 1000: "
        + ", ".join(f"{count} at {size} rows" for size, count in simulated.items())
    )


def _rate(rate: float | str) -> str:
    return f"{rate:.0f}" if isinstance(rate, float) else "failed"


if __name__ == "__main__":
    main()
