"""`modelship drift-watch`: the serving pod's sidecar that measures drift on live traffic."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import click
from modelship_serving.cli_support import user_errors
from modelship_serving.live_drift.exposition import SnapshotCollector
from modelship_serving.live_drift.judgement import MIN_WINDOW_ROWS
from modelship_serving.live_drift.watch import DriftWatch, run_watch
from modelship_serving.metadata import read_model_metadata
from prometheus_client import CollectorRegistry, start_http_server

from modelship.api.base import DURATION_PATTERN
from modelship.cli.options import float_option, int_option
from modelship.reconcile.rollout.analysis import duration


@click.command(
    help="Read the input tensors of the requests Triton traces (--trace-config"
    " level=TENSORS,file=TRACE_FILE,log-frequency=N) as Triton finishes each trace file,"
    " delete the file, count the inputs into the reference profile's bins of model --model"
    " over a rolling window, and serve per-feature drift (PSI with the significance gate"
    " `score` uses) as Prometheus metrics on --metrics-port. Raw inputs are never kept."
)
@click.option(
    "--model-repo",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Model repository (its MODEL/modelship.json holds the reference profile).",
)
@click.option("--model", "model_name", required=True, help="Model name in the repository.")
@click.option(
    "--trace-file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Triton's trace file setting; it writes TRACE_FILE.0, TRACE_FILE.1, ...",
)
@click.option("--revision", default="", help="Revision name for the metrics' revision label.")
@click.option(
    "--window",
    default="24h",
    show_default=True,
    help="Length of the rolling window, as the API spells durations (90s, 30m, 24h).",
)
@float_option("--threshold", default=0.2, help="PSI above which a feature counts as drifted.")
@int_option(
    "--min-window-rows",
    default=MIN_WINDOW_ROWS,
    minimum=1,
    help="Rows the window must hold before a feature can count as drifted (the significance"
    " test is unreliable on fewer).",
)
@int_option("--metrics-port", default=8003, minimum=1, help="Port of the Prometheus metrics.")
@click.option("--metrics-address", default="0.0.0.0", show_default=True)
@click.option(
    "--triton-http",
    default="127.0.0.1:8000",
    show_default=True,
    help="Triton's HTTP endpoint, where the trace budget is granted.",
)
@int_option(
    "--trace-budget",
    default=1000,
    minimum=1,
    help="Traces Triton may write between two polls (its trace count, set after each poll).",
)
@float_option("--poll-seconds", default=2.0, help="Pause between two reads of the trace files.")
def drift_watch(
    model_repo: Path,
    model_name: str,
    trace_file: Path,
    revision: str,
    window: str,
    threshold: float,
    min_window_rows: int,
    metrics_port: int,
    metrics_address: str,
    triton_http: str,
    trace_budget: int,
    poll_seconds: float,
) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    window_seconds = duration(window).total_seconds()
    if not re.fullmatch(DURATION_PATTERN, window) or window_seconds <= 0:
        raise click.BadParameter(f"{window!r} is no positive duration such as 90s, 30m or 24h")
    with user_errors():
        metadata = read_model_metadata(model_repo / model_name)
        watch = DriftWatch(
            metadata,
            trace_file.parent,
            window_seconds,
            threshold,
            trace_file.name,
            min_window_rows,
        )
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(lambda: watch.snapshot, model_name, revision))
    start_http_server(metrics_port, metrics_address, registry=registry)
    click.echo(f"drift-watch: {model_name} on :{metrics_port}, traces from {trace_file}", err=True)
    run_watch(watch, triton_http, trace_budget, poll_seconds)
