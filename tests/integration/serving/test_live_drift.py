"""Drift on live traffic with the real Triton binary: Triton traces the inputs of the
requests it serves (the flags the serving pod gets with spec.monitoring.drift), and the
drift-watch sidecar counts them against the packaged reference profile.

Proves: traffic with one feature (income) shifted by one standard deviation raises that
feature's drift metric and no other's; traffic drawn like the training rows raises none;
every trace file is gone once counted (raw inputs are not kept); the `modelship
drift-watch` command serves the metrics over HTTP and grants Triton its trace budget.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
from modelship_serving.live_drift.exposition import Snapshot, SnapshotCollector
from modelship_serving.live_drift.watch import DriftWatch
from modelship_serving.triton.client import infer_frame
from modelship_serving.triton.server import free_port
from prometheus_client import CollectorRegistry, generate_latest
from support.harness import metrics_text
from support.live_drift import (
    TracedTriton,
    drift_watch_process,
    traced_triton,
    traffic,
    wait_for,
)

pytestmark = pytest.mark.triton

LOG_FREQUENCY = 5
REQUESTS = 40  # a multiple of LOG_FREQUENCY: every trace reaches a file
ROWS_PER_REQUEST = 10
FEATURES = {"age", "income", "city", "plan"}


@pytest.fixture(scope="module")
def triton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TracedTriton]:
    with traced_triton(tmp_path_factory.mktemp("live-drift"), log_frequency=LOG_FREQUENCY) as t:
        yield t


def watch_of(triton: TracedTriton) -> DriftWatch:
    watch = DriftWatch(triton.metadata, triton.trace_file.parent, 3600.0, 0.2)
    watch.poll()  # what earlier tests left
    return DriftWatch(triton.metadata, triton.trace_file.parent, 3600.0, 0.2)


def serve(triton: TracedTriton, seed: int, income_shift_in_std: float = 0.0) -> None:
    for index in range(REQUESTS):
        rows = traffic(ROWS_PER_REQUEST, seed * 1000 + index, income_shift_in_std)
        infer_frame(triton.http, triton.metadata, rows, "http")


def counted(watch: DriftWatch, requests: int) -> Snapshot:
    def all_counted() -> bool:
        watch.poll()
        return watch.sampled_requests >= requests

    wait_for(all_counted, what=f"{requests} traced requests to be counted")
    return watch.snapshot


def scraped(snapshot: Snapshot) -> str:
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(lambda: snapshot, "churn", "churn-abc"))
    return generate_latest(registry).decode()


def drifted_line(feature: str, value: float) -> str:
    return (
        f'modelship_live_drift_drifted{{feature="{feature}",model="churn",revision="churn-abc"}}'
        f" {value}"
    )


def test_a_one_std_income_shift_raises_income_drift_and_no_other(triton: TracedTriton) -> None:
    watch = watch_of(triton)
    serve(triton, seed=11, income_shift_in_std=1.0)
    snapshot = counted(watch, REQUESTS)

    assert snapshot.counts.rows == REQUESTS * ROWS_PER_REQUEST
    assert snapshot.report.drifted_features == ["income"]
    assert snapshot.report.features["income"].psi > 0.2
    metrics = scraped(snapshot)
    assert drifted_line("income", 1.0) in metrics
    for other in FEATURES - {"income"}:
        assert drifted_line(other, 0.0) in metrics


def test_traffic_like_the_training_rows_raises_no_drift(triton: TracedTriton) -> None:
    watch = watch_of(triton)
    serve(triton, seed=12)
    snapshot = counted(watch, REQUESTS)

    assert snapshot.counts.rows == REQUESTS * ROWS_PER_REQUEST
    assert snapshot.report.drifted_features == []
    assert set(snapshot.report.features) == FEATURES
    assert "modelship_live_drift_drifted" in scraped(snapshot)


def test_trace_files_are_deleted_once_counted(triton: TracedTriton) -> None:
    watch = watch_of(triton)
    serve(triton, seed=13)
    counted(watch, REQUESTS)

    assert watch.trace_files == REQUESTS // LOG_FREQUENCY
    assert list(triton.trace_file.parent.iterdir()) == []


def test_the_sidecar_command_serves_metrics_and_grants_the_trace_budget(
    triton: TracedTriton,
) -> None:
    watch_of(triton)  # start from an empty trace directory
    port = free_port()
    with drift_watch_process(
        triton.repository,
        "churn",
        port,
        "--trace-file",
        str(triton.trace_file),
        "--revision",
        "churn-abc",
        "--window",
        "1h",
        "--triton-http",
        triton.http,
        "--trace-budget",
        "777",
        "--poll-seconds",
        "0.2",
    ):
        serve(triton, seed=14, income_shift_in_std=1.0)

        def income_flagged() -> bool:
            return drifted_line("income", 1.0) in metrics_text(port, timeout=2)

        wait_for(income_flagged, what="the sidecar to flag income")

        def trace_files_gone() -> bool:
            return not list(triton.trace_file.parent.iterdir())

        wait_for(trace_files_gone, what="the sidecar to delete every trace file")

        def budget_granted() -> bool:
            # Triton counts its remaining traces down; each poll sets them back to the budget.
            with urllib.request.urlopen(f"http://{triton.http}/v2/trace/setting", timeout=2) as r:
                return bool(json.load(r)["trace_count"] == "777")

        wait_for(budget_granted, what="Triton's trace count to be set to the sidecar's budget")
