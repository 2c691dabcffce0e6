"""Benchmark of the stages of a scoring job, one after the other (not a test).

On the scoring benchmark's table and model (hack/bench/scoring_bench.py), in one process,
the CPU time per chunk of each stage `modelship score` runs for every chunk (on three
threads in a real run; serial here, so each is measured alone): reading the chunk,
counting its drift, converting it for the model, onnxruntime's run, shaping the output
rows, writing the committed chunk and appending to the streamed output.

    PYTHONPATH=tests .venv/bin/python hack/bench/scoring_stages_bench.py --rows 1000000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelship_serving.scoring.checks import load_model, read_input
from modelship_serving.scoring.counting import chunk_counts
from modelship_serving.scoring.feeds import chunk_feeds
from modelship_serving.scoring.job import numbered
from modelship_serving.scoring.output import StreamedOutput, prediction_table, write_chunk
from modelship_serving.scoring.scorers import InProcessScorer
from scoring_bench import make_table, package_bench_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rows-per-chunk", type=int, default=50_000)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scoring-stages-") as workdir:
        work = Path(workdir)
        table = work / "input.parquet"
        make_table(arguments.rows, 2).to_parquet(table, index=False)
        package_bench_model(work)
        metadata, model_file = load_model(work / "repo", "bench")
        scorer = InProcessScorer(model_file, metadata)
        seconds: dict[str, float] = {}

        def timed(stage: str, work: Callable[..., Any], *args: Any) -> Any:
            started = time.process_time()
            result = work(*args)
            seconds[stage] = seconds.get(stage, 0.0) + time.process_time() - started
            return result

        chunks = numbered(read_input(table, arguments.rows_per_chunk, metadata, "id"))
        stream = StreamedOutput(work / "streamed.parquet", "parquet", metadata)
        count = 0
        while (chunk := timed("reading", next, chunks, None)) is not None:
            timed("drift counting", chunk_counts, chunk, metadata.reference_profile)
            feeds = timed("conversion for the model", chunk_feeds, chunk, metadata.input_schema)
            values = timed("onnxruntime run", scorer.session.run, scorer.output_names, feeds)
            outputs = dict(zip(scorer.output_names, values, strict=True))
            rows = timed(
                "output rows",
                prediction_table,
                outputs,
                metadata,
                chunk.row_numbers,
                chunk.column("id"),
                "id",
            )
            timed("committed chunk (Arrow IPC)", write_chunk, rows, work / f"chunk-{count}.arrow")
            timed("streamed output (Parquet)", stream.append, count, rows)
            count += 1
        stream.close()
    print(f"{arguments.rows:,} rows in {count} chunks of {arguments.rows_per_chunk:,}")
    print()
    print("| stage | CPU ms per chunk | CPU s for the table |")
    print("| --- | --- | --- |")
    for stage, total in seconds.items():
        print(f"| {stage} | {total * 1000 / count:.2f} | {total:.3f} |")
    print(f"| all | {sum(seconds.values()) * 1000 / count:.2f} | {sum(seconds.values()):.3f} |")


if __name__ == "__main__":
    main()
