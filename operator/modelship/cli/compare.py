"""`modelship compare`: how alike two Triton endpoints answer one table (the canary's
prediction gate runs it as a Job)."""

from __future__ import annotations

from pathlib import Path

import click
from modelship_serving.cli_support import user_errors

from modelship.cli.options import int_option, model_options

# Where Kubernetes reads a container's termination message by default.
DEFAULT_TERMINATION_PATH = "/dev/termination-log"


@click.command(
    help="Send a reference table to the Triton HTTP endpoints --stable and --candidate (HOST:PORT,"
    " both serving model --model of --model-repo) and compare their answers: for a classifier"
    " the share of rows whose labels agree, for a regressor the mean absolute difference and the"
    " shift (PSI) of the candidate's predictions from stable's. The table is --data, or rows"
    " drawn from the package's recorded reference profile. Prints one line and writes the result"
    " as JSON to --termination-path. Exits 0 whenever it measured, whatever the verdict (judged"
    " only against the thresholds given, and written in the JSON); 1 when it could not"
    ' measure, with {"error": ...} written there.'
)
@model_options("Model repository written by `modelship package` (the candidate's).")
@click.option("--stable", "stable_url", required=True, help="Stable Triton HTTP HOST:PORT.")
@click.option(
    "--candidate", "candidate_url", required=True, help="Candidate Triton HTTP HOST:PORT."
)
@click.option(
    "--data",
    "data_uri",
    help="Table to compare on (path, file://, s3://, gs://, az://, http(s)://; .csv, .parquet,"
    " .jsonl); default: rows drawn from the package's reference profile.",
)
@int_option("--rows", default=1000, minimum=1, help="Rows sent to each endpoint.")
@click.option("--min-agreement", type=click.FloatRange(0, 1), help="Classifiers: pass at least.")
@click.option("--max-mean-abs-diff", type=click.FloatRange(min=0), help="Regressors: pass at most.")
@click.option("--max-shift", type=click.FloatRange(min=0), help="Regressors: PSI, pass at most.")
@click.option(
    "--termination-path",
    type=click.Path(path_type=Path),
    default=DEFAULT_TERMINATION_PATH,
    show_default=True,
    help="Where the JSON result goes (Kubernetes reads it as the termination message).",
)
def compare(
    model_repo: Path,
    model_name: str,
    stable_url: str,
    candidate_url: str,
    data_uri: str | None,
    rows: int,
    min_agreement: float | None,
    max_mean_abs_diff: float | None,
    max_shift: float | None,
    termination_path: Path,
) -> None:
    """See the help text above."""
    from modelship_serving.compare import CompareSettings, Thresholds, error_message
    from modelship_serving.compare import compare as run_compare
    from modelship_serving.scoring.checks import load_model

    try:
        with user_errors():
            metadata, _ = load_model(model_repo, model_name)
            result = run_compare(
                CompareSettings(
                    metadata=metadata,
                    stable_url=stable_url,
                    candidate_url=candidate_url,
                    data_uri=data_uri,
                    rows=rows,
                    thresholds=Thresholds(
                        min_agreement=min_agreement,
                        max_mean_abs_diff=max_mean_abs_diff,
                        max_shift=max_shift,
                    ),
                )
            )
    except click.ClickException as error:
        _write(termination_path, error_message(error.message))
        raise
    _write(termination_path, result.message())
    click.echo(f"{model_name}: {result.summary}")


def _write(path: Path, message: str) -> None:
    try:
        path.write_text(message, encoding="utf-8")
    except OSError as error:
        raise click.ClickException(
            f"cannot write the result to {path} ({error.strerror}): give a --termination-path"
            " you can write"
        ) from error
