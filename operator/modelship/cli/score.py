"""`modelship score`: batch scoring of a table with a packaged model (what batch CronJobs run)."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click
from modelship_serving.cli_support import user_errors

from modelship.cli.options import int_option


def _progress_printer() -> Any:
    if sys.stderr.isatty():

        def on_tty(event: dict[str, Any]) -> None:
            rate = event.get("rows_per_second")
            click.echo(
                f"\rscored {event['rows_done']:,} rows" + (f" ({rate:,} rows/s)" if rate else ""),
                err=True,
                nl=False,
            )

        return on_tty

    def as_json(event: dict[str, Any]) -> None:
        click.echo(json.dumps(event), err=True)

    return as_json


# A presigned input URL, from the credentials Secret: it replaces --input.
SCORE_INPUT_ENV = "MODELSHIP_SCORE_INPUT"


@click.command(
    help="Score the table at --input with model --model of the repository --model-repo and write"
    " one prediction per input row to --output (format from its extension: .csv, .parquet,"
    " .jsonl), with the row number (and --key) carried through. The input is checked against"
    " the model's recorded schema before anything is scored; the output appears only when"
    " complete, with OUTPUT.manifest.json and OUTPUT.drift.json beside it. A rerun after a crash"
    " resumes from the last committed chunk. --input and --output may name the run with"
    " {run} and {date} (see --run), so that each scheduled run has its own output."
    " --input may be a dataset (a folder, or an s3/gs/az prefix, hive partitions"
    " included) and --output a dataset (ending in '/': one part per input file with rows,"
    " complete once OUTPUT/_manifest.json is there). With --shards N, N pods (an Indexed Job's)"
    " share the input by --shard-index; the last to commit publishes."
)
@click.option(
    "--model-repo",
    required=True,
    type=click.Path(path_type=Path),
    help="Model repository written by `modelship package`.",
)
@click.option("--model", "model_name", required=True, help="Model name in the repository.")
@click.option(
    "--input",
    "input_uri",
    required=True,
    envvar=SCORE_INPUT_ENV,
    help="Input table: path, file://, s3://, gs://, az:// or http(s)://. MODELSHIP_SCORE_INPUT,"
    " when set, replaces it, so that a presigned URL comes from the credentials Secret rather than"
    " the pod's spec; its query string is never logged or recorded.",
)
@click.option(
    "--input-format",
    type=click.Choice(["csv", "parquet", "jsonl"]),
    help="Format of the input; default: from its extension (.csv, .parquet, .jsonl).",
)
@click.option(
    "--output",
    "output_uri",
    required=True,
    help="Output table: path, file://, s3://, gs:// or az://.",
)
@click.option(
    "--output-format",
    type=click.Choice(["csv", "parquet", "jsonl"]),
    default="parquet",
    show_default=True,
    help="Format of a dataset output's part files (an --output ending in '/').",
)
@int_option(
    "--shards",
    default=1,
    minimum=1,
    help="How many pods share the input: each scores every N-th file (or row group of a"
    " single Parquet file) from its --shard-index on.",
)
@click.option(
    "--shard-index",
    type=click.IntRange(min=0),
    default=0,
    envvar="JOB_COMPLETION_INDEX",
    help="Which shard this pod is; an Indexed Job's JOB_COMPLETION_INDEX when set.",
)
@click.option(
    "--triton",
    "triton_url",
    help="Score via Triton gRPC at HOST:PORT instead of onnxruntime in-process.",
)
@int_option(
    "--batch-size",
    "rows_per_chunk",
    default=50_000,
    minimum=1,
    help="Rows read, scored and committed at a time (memory stays flat).",
)
@int_option(
    "--request-rows",
    "rows_per_request",
    default=64,
    minimum=1,
    help="Rows per Triton request (at most the model's max_batch_size).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    help="onnxruntime threads in-process (default: every core), or Triton requests in"
    " flight (default 4).",
)
@click.option(
    "--work-dir",
    type=click.Path(path_type=Path),
    help="Where partial results live; default: beside a local output, or under $TMPDIR for an"
    " s3/gs/az output (scratch only: committed chunks are also kept beside the output, so a"
    " rerun in a new pod resumes).",
)
@click.option("--key", "key_column", help="Input column to carry into the output.")
@click.option(
    "--run",
    envvar="MODELSHIP_BATCH_RUN",
    help="Name of this run, for {run} and {date} in --input and --output: the Job's name"
    " (<cronjob>-<minutes since the epoch>), which the batch CronJob passes as"
    " MODELSHIP_BATCH_RUN; every retry of a run gets the same name, and so resumes.",
)
@click.option(
    "--psi-threshold",
    type=click.FloatRange(min=0, min_open=True),
    help="PSI above which a feature counts as drifted (when the difference is also"
    " significant for the input's size); default 0.25.",
)
@click.option(
    "--drift-summary",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write a small drift summary (JSON under 4 KB: per-feature PSI, no data) to"
    " this file when done; the batch CronJob points it at the termination message.",
)
def score(
    model_name: str,
    input_uri: str,
    output_uri: str,
    run: str | None,
    psi_threshold: float | None,
    **options: Any,
) -> None:
    """See the help text above. The other options are ScoreSettings' fields, by name."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with user_errors():
        from modelship_serving.scoring.job import ScoreSettings, run_scoring
        from modelship_serving.scoring.runs import expand_run

        manifest = run_scoring(
            ScoreSettings(
                model=model_name,
                input_uri=expand_run(os.environ.get(SCORE_INPUT_ENV) or input_uri, run),
                output_uri=expand_run(output_uri, run),
                **options,
                **({} if psi_threshold is None else {"psi_threshold": psi_threshold}),
            ),
            progress=_progress_printer(),
        )
    if sys.stderr.isatty():
        click.echo("", err=True)
    if manifest.shards_committed < manifest.shards:
        click.echo(
            f"shard {options['shard_index']} scored {manifest.rows_out:,} rows and committed them;"
            f" {manifest.shards_committed} of {manifest.shards} shards committed, the last"
            f" one publishes {manifest.output}"
        )
        return
    click.echo(
        f"scored {manifest.rows_out:,} rows with {manifest.model_name} v{manifest.model_version}"
        f" ({manifest.scorer}) into {manifest.output}"
        + (f"; resumed {manifest.chunks_resumed} chunk(s)" if manifest.chunks_resumed else "")
    )
    if manifest.drifted_features:
        click.echo(f"drift: {', '.join(manifest.drifted_features)} (see {manifest.drift_file})")
