"""Benchmark of batch scoring (not a test): rows/s and peak memory on a large table.

Generates a Parquet table (default 1,000,000 rows; 8 numeric columns with gaps,
2 categorical), packages a ColumnTransformer + LogisticRegression pipeline with
max_batch_size 1024, and in one run measures, each in its own child process so
its peak resident memory (ru_maxrss) is its own:

- ``modelship score`` in-process (onnxruntime), streaming 50,000-row chunks;
- ``modelship score --triton`` against the real Triton (1024-row gRPC requests,
  4 in flight); Triton's own memory is reported separately (VmHWM);
- the ceiling: the whole table loaded into memory and run through onnxruntime in
  one call (no streaming, no output written);
- a naive loop sending one row per HTTP request to Triton (run for a fixed
  time and extrapolated to the table).

    .venv/bin/python hack/bench/scoring_bench.py --rows 1000000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from modelship_serving.packaging.package import package_model
from modelship_serving.triton.config import ModelConfigOptions
from modelship_serving.triton.server import TritonServer, TritonServerSettings
from synthetic import FEATURES, make_data, train


def make_table(rows: int, seed: int) -> pd.DataFrame:
    """The synthetic features with an id column first, carried into the output."""
    frame = make_data(rows, seed)
    frame.insert(0, "id", np.arange(rows))
    return frame


# Linux carries a process's peak RSS across fork and exec, so a child forked from this (large)
# process would report at least our own peak. A small wrapper process forks the real command,
# whose peak then starts from the wrapper's few MiB, and reports it.
_MEASURE = (
    "import resource, subprocess, sys;"
    " code = subprocess.call(sys.argv[1:]);"
    " print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr);"
    " sys.exit(code)"
)


# `modelship` run by this interpreter in a child process.
MODELSHIP = [sys.executable, "-c", "from modelship.cli import main; main()"]


def bench_parser(doc: str | None) -> argparse.ArgumentParser:
    """A bench's command line, its module docstring (kept as written) as the help."""
    return argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def score_command(work: Path, source: Path, *more: str) -> list[str]:
    """`modelship score` of ``source`` with the bench model packaged in ``work``, keyed by id."""
    model = ["--model-repo", str(work / "repo"), "--model", "bench", "--key", "id"]
    return [*MODELSHIP, "score", *model, "--input", str(source), *more]


def rescore_command(work: Path, source: Path, output: Path) -> list[str]:
    """score_command into ``output``, after removing what an earlier run wrote there."""
    for suffix in ("", ".manifest.json", ".drift.json"):
        output.with_name(output.name + suffix).unlink(missing_ok=True)
    return score_command(work, source, "--output", str(output))


@contextmanager
def packaged_bench(prefix: str) -> Iterator[Path]:
    """A temporary folder holding the bench model, packaged by package_bench_model."""
    with tempfile.TemporaryDirectory(prefix=prefix) as workdir:
        work = Path(workdir)
        package_bench_model(work)
        yield work


def package_bench_model(work: Path) -> None:
    """Train the benchmark's model on its own sample and package it as model "bench"
    version 1 in ``work``/repo (the model and sample files stay in ``work``)."""
    sample = make_table(5000, 1)
    joblib.dump(train(sample), work / "model.joblib")
    sample[FEATURES].to_csv(work / "sample.csv", index=False)
    package_model(
        work / "model.joblib",
        work / "sample.csv",
        "bench",
        "1",
        work / "repo",
        config_options=ModelConfigOptions(max_batch_size=1024),
    )


def run_child(command: list[str]) -> tuple[float, float, str]:
    """(seconds, peak RSS MiB, stdout) of one child process."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{command} failed with {done.returncode}: {done.stderr[-2000:]}")
    peak_kib = int(done.stderr.strip().splitlines()[-1])
    return elapsed, peak_kib / 1024, done.stdout


def peak_memory_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


CEILING = textwrap.dedent(
    """
    import sys, time
    import pandas as pd
    from modelship_serving.metadata import read_model_metadata
    from modelship_serving.packaging.parity import onnx_session
    from modelship_serving.packaging.schema import frame_to_feeds
    from pathlib import Path
    model_dir, table = Path(sys.argv[1]), sys.argv[2]
    metadata = read_model_metadata(model_dir)
    session = onnx_session((model_dir / metadata.model_file).read_bytes())
    frame = pd.read_parquet(table)
    feeds = frame_to_feeds(frame, metadata.input_schema)
    started = time.perf_counter()
    session.run(None, feeds)
    print(time.perf_counter() - started)
    """
)

HTTP_LOOP = textwrap.dedent(
    """
    import sys, time
    import pandas as pd
    import tritonclient.http as th
    from modelship_serving.metadata import read_model_metadata
    from modelship_serving.triton.client import infer_inputs
    from pathlib import Path
    model_dir, table, url, seconds = Path(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
    metadata = read_model_metadata(model_dir)
    frame = pd.read_parquet(table).head(20000)
    client = th.InferenceServerClient(url)
    done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        row = frame.iloc[[done % len(frame)]]
        client.infer(metadata.name, infer_inputs(row, metadata.input_schema, th.InferInput))
        done += 1
    print(done / (time.perf_counter() - started))
    """
)


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--loop-seconds", type=float, default=15.0)
    arguments = parser.parse_args()
    with packaged_bench("scoring-bench-") as work:
        table = work / "input.parquet"
        make_table(arguments.rows, 2).to_parquet(table, index=False)
        figures: list[tuple[str, float, float]] = []
        score = score_command(work, table)
        seconds, memory, _ = run_child([*score, "--output", str(work / "in-process.parquet")])
        figures.append(
            (
                "`modelship score`, onnxruntime in-process (50k-row chunks)",
                arguments.rows / seconds,
                memory,
            )
        )
        print(
            f"in-process: {arguments.rows / seconds:,.0f} rows/s, {memory:.0f} MiB", file=sys.stderr
        )

        with TritonServer(TritonServerSettings(repository=work / "repo")) as server:
            assert server.endpoints is not None
            assert server._process is not None
            seconds, memory, _ = run_child(
                [
                    *score,
                    "--output",
                    str(work / "triton.parquet"),
                    "--triton",
                    server.endpoints.grpc,
                    "--request-rows",
                    "1024",
                    "--concurrency",
                    "4",
                ]
            )
            triton_memory = peak_memory_mib(server._process.pid)
            figures.append(
                (
                    "`modelship score --triton`, gRPC 1024-row requests, 4 in flight",
                    arguments.rows / seconds,
                    memory,
                )
            )
            print(
                f"triton: {arguments.rows / seconds:,.0f} rows/s, {memory:.0f} MiB"
                f" (+ tritonserver {triton_memory:.0f} MiB)",
                file=sys.stderr,
            )
            _, loop_memory, loop_output = run_child(
                [
                    sys.executable,
                    "-c",
                    HTTP_LOOP,
                    str(work / "repo" / "bench"),
                    str(table),
                    server.endpoints.http,
                    str(arguments.loop_seconds),
                ]
            )
            loop_rate = float(loop_output.strip())
            figures.append(
                ("one row per HTTP request, sequential loop (extrapolated)", loop_rate, loop_memory)
            )

        _, memory, ceiling_output = run_child(
            [sys.executable, "-c", CEILING, str(work / "repo" / "bench"), str(table)]
        )
        ceiling_rate = arguments.rows / float(ceiling_output.strip())
        figures.append(
            ("ceiling: onnxruntime on the whole table in memory (run only)", ceiling_rate, memory)
        )

    print(f"{arguments.rows:,} rows, python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print()
    print("| scorer | rows/s | time for the table | peak RSS (MiB) |")
    print("| --- | --- | --- | --- |")
    for label, rate, memory in figures:
        print(f"| {label} | {rate:,.0f} | {arguments.rows / rate:,.1f} s | {memory:,.0f} |")
    print()
    print(
        f"tritonserver peak memory during the Triton run: {triton_memory:,.0f} MiB"
        " (VmHWM; python backend stubs not included)"
    )
    in_process_rate = figures[0][1]
    print(
        f"- in-process = {in_process_rate / ceiling_rate:.1%} of the ceiling;"
        f" Triton path = {figures[1][1] / in_process_rate:.2f}x in-process;"
        f" in-process = {in_process_rate / loop_rate:,.0f}x the one-row-per-request loop"
    )


if __name__ == "__main__":
    main()
