"""`modelship evaluate`: a candidate model (and the champion) scored on one holdout table, with
scikit-learn's metrics; what the RetrainJob's validation Job runs in the serving image."""

from __future__ import annotations

from pathlib import Path

import click
from modelship_serving.cli_support import user_errors
from modelship_serving.evaluate.report import TERMINATION_MESSAGE_LIMIT

from modelship.cli.options import fetch_limit_options

# Where the kubelet reads a container's termination message (its terminationMessagePath).
DEFAULT_TERMINATION_LOG = Path("/dev/termination-log")


def _write_termination_message(path: Path, text: str, explicit: bool) -> None:
    """Write ``text`` to ``path``. Outside a pod the default path cannot be written: say so
    and go on (the summary is on stdout); a path given on purpose must be written."""
    # The kubelet keeps 4096 bytes; the JSON result is shorter, a long error is cut.
    kept = text.encode("utf-8")[: TERMINATION_MESSAGE_LIMIT - 1].decode("utf-8", errors="ignore")
    try:
        path.write_text(kept, encoding="utf-8")
    except OSError as error:
        if explicit:
            raise click.ClickException(
                f"cannot write the termination log {path}: {error.strerror or error}; give a"
                " writable --termination-log"
            ) from error
        click.echo(
            f"note: {path} not written ({error.strerror or error}); outside a pod, pass"
            " --termination-log PATH to keep the JSON result",
            err=True,
        )


@click.command(
    help="Score the packaged model at --candidate, and the one at --champion when given, on"
    " the holdout table --data (.csv, .parquet or .jsonl; a path, file://, s3://, gs://, az:// or"
    " http(s)://) in-process with onnxruntime, and measure each against the true values in"
    " column --label with scikit-learn's metrics: accuracy, f1, roc_auc, log_loss for"
    " classifiers; rmse, mae, r2 for regressors (the task is the models' own). Binary f1 and"
    " roc_auc take the model's second class as positive (scikit-learn's classes_ order);"
    " with more classes f1 is macro-averaged and roc_auc is one-vs-rest, macro-averaged. A"
    " metric the holdout cannot define (roc_auc with one class) is null, with a note on"
    " stderr. Prints a one-line summary and writes a compact JSON document (under 4096"
    " bytes) to --termination-log: {task, rows, label, candidate: {uri, metrics}, champion:"
    " {uri, metrics} | null}. Exits 0 whichever model is better: the verdict is the"
    " caller's. Model uris and credentials as for `modelship fetch`; a plain path is a local"
    " repository. Each uri must hold one model, as `modelship package` writes it. The models"
    " and a remote holdout are downloaded under $TMPDIR: give it room for them."
)
@click.option("--candidate", "candidate_uri", required=True, help="The model to validate.")
@click.option(
    "--champion",
    "champion_uri",
    help="The model it would replace; leave out for a first model.",
)
@click.option("--data", "data_uri", required=True, help="The holdout table.")
@click.option(
    "--data-format",
    type=click.Choice(["csv", "parquet", "jsonl"]),
    help="Format of the holdout; default: from its extension (.csv, .parquet, .jsonl).",
)
@click.option("--label", required=True, help="Column of the holdout with the true values.")
@click.option(
    "--metrics",
    help="Comma-separated metrics to report, e.g. accuracy,roc_auc; default: all of the"
    " task's. A metric of the other task is an error.",
)
@click.option(
    "--termination-log",
    type=click.Path(path_type=Path, dir_okay=False),
    help=f"Where to write the JSON result; default: {DEFAULT_TERMINATION_LOG}, where the"
    " kubelet reads the container's termination message. On failure the `Error: ...` line"
    " is written there instead.",
)
@click.option("--candidate-sha256", help="Expected repository digest of the candidate.")
@click.option("--champion-sha256", help="Expected repository digest of the champion.")
@fetch_limit_options
def evaluate(
    candidate_uri: str,
    champion_uri: str | None,
    data_uri: str,
    data_format: str | None,
    label: str,
    metrics: str | None,
    termination_log: Path | None,
    candidate_sha256: str | None,
    champion_sha256: str | None,
    max_bytes: int,
    timeout_seconds: float,
) -> None:
    """See the help text above."""
    log = termination_log or DEFAULT_TERMINATION_LOG
    try:
        with user_errors():
            from modelship_serving.evaluate.models import FetchLimits
            from modelship_serving.evaluate.run import EvaluateSettings, evaluate

            result = evaluate(
                EvaluateSettings(
                    candidate_uri=candidate_uri,
                    champion_uri=champion_uri,
                    data_uri=data_uri,
                    data_format=data_format,  # type: ignore[arg-type]  # click.Choice checked it
                    label=label,
                    metrics=metrics,
                    candidate_sha256=candidate_sha256,
                    champion_sha256=champion_sha256,
                    limits=FetchLimits(max_bytes=max_bytes, timeout_seconds=timeout_seconds),
                )
            )
    except click.ClickException as error:
        # The operator reads why the validation failed from the termination message.
        _write_termination_message(
            log, f"Error: {error.format_message()}", termination_log is not None
        )
        raise
    for note in result.notes():
        click.echo(f"note: {note}", err=True)
    _write_termination_message(log, result.termination_message(), termination_log is not None)
    click.echo(result.summary())
