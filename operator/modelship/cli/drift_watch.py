"""`modelship drift-watch`: drift on live traffic, from a gateway's mirrored copies of a
deployment's requests (its own Deployment) or from Triton's traces (a serving pod's
sidecar, experimental)."""

from __future__ import annotations

import logging
import re
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import click
from modelship_serving.cli_support import user_errors
from modelship_serving.drift_rules import MIN_WINDOW_ROWS
from modelship_serving.live_drift.exposition import Snapshot, SnapshotCollector
from modelship_serving.live_drift.mirror import MirroredWindow
from modelship_serving.live_drift.mirror_endpoints import MirrorReceiver
from modelship_serving.live_drift.watch import DriftWatch, run_watch
from modelship_serving.metadata import ModelMetadata, read_model_metadata
from prometheus_client import CollectorRegistry, start_http_server

from modelship.api.base import DURATION_PATTERN
from modelship.cli.options import float_option, int_option, model_options
from modelship.reconcile.rollout.analysis import duration


@click.command(
    help="Count the inputs of live requests into the reference profile's bins of model"
    " --model over a rolling window, and serve per-feature drift (PSI with the significance"
    " gate `score` uses) as Prometheus metrics on --metrics-port. Inputs come from exactly"
    " one source: the copies a gateway mirrors to --mirror-http-port / --mirror-grpc-port"
    " (KServe v2 inference requests, answered at once and never kept), or Triton's trace"
    " files (--trace-file; --trace-config level=TENSORS,file=TRACE_FILE), each deleted once"
    " read."
)
@model_options("Model repository (its MODEL/modelship.json holds the reference profile).")
@click.option(
    "--trace-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Trace mode: Triton's trace file setting; it writes TRACE_FILE.0, TRACE_FILE.1, ...",
)
@int_option(
    "--mirror-http-port",
    minimum=0,
    help="Mirror mode: port of the KServe v2 HTTP endpoint the gateway mirrors requests to.",
)
@int_option(
    "--mirror-grpc-port",
    minimum=0,
    help="Mirror mode: port of the KServe v2 gRPC endpoint the gateway mirrors requests to.",
)
@click.option(
    "--mirror-address",
    default="0.0.0.0",
    show_default=True,
    help="Mirror mode: address both mirror endpoints listen on.",
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
    help="Rows the window must hold before a feature can count as drifted (on fewer, clean"
    " windows are flagged too often: PSI's small-sample bias across many features).",
)
@int_option("--metrics-port", default=8003, minimum=1, help="Port of the Prometheus metrics.")
@click.option("--metrics-address", default="0.0.0.0", show_default=True)
@click.option(
    "--triton-http",
    default="127.0.0.1:8000",
    show_default=True,
    help="Trace mode: Triton's HTTP endpoint, where the trace budget is granted.",
)
@int_option(
    "--trace-budget",
    default=1000,
    minimum=1,
    help="Trace mode: traces Triton may write between two polls (its trace count, set after"
    " each poll).",
)
@float_option(
    "--poll-seconds", default=2.0, help="Trace mode: pause between two reads of the trace files."
)
def drift_watch(
    model_repo: Path,
    model_name: str,
    trace_file: Path | None,
    mirror_http_port: int | None,
    mirror_grpc_port: int | None,
    mirror_address: str,
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
    mirrored = mirror_http_port is not None or mirror_grpc_port is not None
    if mirrored == (trace_file is not None):
        raise click.UsageError(
            "give exactly one source: --mirror-http-port and/or --mirror-grpc-port (mirror"
            " mode), or --trace-file (trace mode)"
        )
    with user_errors():
        metadata = read_model_metadata(model_repo / model_name)
    if trace_file is None:
        mirror = MirroredWindow(metadata, window_seconds, threshold, min_window_rows)
        with user_errors():  # a port taken, grpcio missing: one line, no traceback
            receiver = MirrorReceiver(mirror, mirror_address, mirror_http_port, mirror_grpc_port)
        with receiver:
            serve_metrics(mirror.snapshot, model_name, revision, metrics_address, metrics_port)
            click.echo(
                f"drift-watch: {model_name} on :{metrics_port}, mirrored requests on"
                f" http :{receiver.http_port}, grpc :{receiver.grpc_port}",
                err=True,
            )
            wait_for_termination()
        return
    watch = trace_watch(metadata, trace_file, window_seconds, threshold, min_window_rows)
    serve_metrics(lambda: watch.snapshot, model_name, revision, metrics_address, metrics_port)
    click.echo(f"drift-watch: {model_name} on :{metrics_port}, traces from {trace_file}", err=True)
    run_watch(watch, triton_http, trace_budget, poll_seconds)


def trace_watch(
    metadata: ModelMetadata,
    trace_file: Path,
    window_seconds: float,
    threshold: float,
    min_window_rows: int,
) -> DriftWatch:
    with user_errors():
        return DriftWatch(
            metadata, trace_file.parent, window_seconds, threshold, trace_file.name, min_window_rows
        )


def serve_metrics(
    current: Callable[[], Snapshot | None], model: str, revision: str, address: str, port: int
) -> None:
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(current, model, revision))
    start_http_server(port, address, registry=registry)


def wait_for_termination() -> None:
    """Block until SIGTERM (the kubelet stopping the pod) or SIGINT."""
    stop = threading.Event()

    def stop_on(_signal: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, stop_on)
    signal.signal(signal.SIGINT, stop_on)
    stop.wait()
