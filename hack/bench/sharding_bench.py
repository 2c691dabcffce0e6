"""Benchmark of sharded batch scoring (not a test): 1, 2 and 4 shards on this machine.

Writes the scoring benchmark's synthetic table (default 1,000,000 rows) as a dataset of 8
Parquet files under hive partitions, packages the same model, then for each shard count
starts one `modelship score --shards N` process per completion index at once (as an
Indexed Job's pods would start, here on one machine's cores) and measures the wall time
until the last one has published the output, the slowest process's own time and each
process's peak resident memory (measured as scoring_bench.py does). A shard
that gets no file (index 8 of 9 over 8 files) measures the per-pod overhead: interpreter
start, imports, model load, input listing and its commit marker.

    PYTHONPATH=tests .venv/bin/python hack/bench/sharding_bench.py --rows 1000000
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from scoring_bench import _MEASURE, bench_parser, make_table, packaged_bench, score_command

FILES = 8


def write_dataset(rows: int, root: Path) -> None:
    frame = make_table(rows, 7)
    per_file = -(-rows // FILES)
    for number in range(FILES):
        folder = root / f"day={number % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        part = frame.iloc[number * per_file : (number + 1) * per_file]
        part.to_parquet(folder / f"part-{number}.parquet", index=False)


def run_shards(
    command: list[str], shards: int, threads: int, output: str, extra: list[str]
) -> tuple[float, list[float], list[float]]:
    """(wall seconds until every shard ended, each shard's seconds, each one's peak RSS MiB)."""
    started = time.perf_counter()
    processes = []
    for index in range(shards):
        env = {**os.environ, "JOB_COMPLETION_INDEX": str(index)}
        line = [sys.executable, "-c", _MEASURE, *command, "--output", output]
        line += ["--shards", str(shards), "--concurrency", str(threads), *extra]
        child = subprocess.Popen(
            line, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        processes.append((time.perf_counter(), child))
    times, peaks = [], []
    for began, process in processes:
        _, errors = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"shard failed: {errors[-2000:]}")
        times.append(time.perf_counter() - began)
        peaks.append(int(errors.strip().splitlines()[-1]) / 1024)
    return time.perf_counter() - started, times, peaks


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    arguments = parser.parse_args()
    cores = os.cpu_count() or 1
    with packaged_bench("sharding-bench-") as work:
        write_dataset(arguments.rows, work / "in")
        command = score_command(work, work / "in")
        print(f"{arguments.rows:,} rows in {FILES} Parquet files; {cores} cores\n")
        print(
            "| shards | onnxruntime threads per shard | wall time | rows/s | slowest shard"
            " | peak RSS per shard (MiB) |"
        )
        print("| --- | --- | --- | --- | --- | --- |")
        for shards in (1, 2, 4):
            threads = max(1, cores // shards)
            output = str(work / f"out-{shards}.parquet")
            wall, times, peaks = run_shards(command, shards, threads, output, [])
            rate = arguments.rows / wall
            memory = ", ".join(f"{peak:.0f}" for peak in peaks)
            print(
                f"| {shards} | {threads} | {wall:.2f} s | {rate:,.0f} | {max(times):.2f} s"
                f" | {memory} |"
            )
        # The fixed cost of a pod: a shard with no file of its own (index 8 of 9).
        env = {**os.environ, "JOB_COMPLETION_INDEX": str(FILES)}
        line = [*command, "--output", str(work / "idle.parquet"), "--shards", str(FILES + 1)]
        started = time.perf_counter()
        subprocess.run(line, env=env, check=True, capture_output=True)
        print(f"\nper-pod overhead (a shard with no file): {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
