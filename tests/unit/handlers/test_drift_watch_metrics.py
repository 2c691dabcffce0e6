"""Reading a drift-watch pod's window: its real exposition parsed, over real HTTP.

The metrics are modelship_serving's own (SnapshotCollector over counts of real rows,
judged by judge_window), so a renamed metric or label fails here. Proves: the window's
revision, rows and each feature's PSI and p-value come back; the operator's judgement of
a full window (the batch rule, reconcile/drift.py) agrees feature by feature with the
pod's own `drifted` gauge; a pod that answers badly, slowly or not at all comes back as a
reason, never an exception; gather lists the pod only once its Deployment has one ready,
and reads its metrics only once a check is due.
"""

from __future__ import annotations

import asyncio
import math
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from modelship.api.model_deployment import ModelDeployment
from modelship.handlers.drift_watch_metrics import (
    live_window,
    read_live_drift,
    ready_since,
    scrape_window,
)
from modelship.handlers.runtime import Runtime
from modelship.reconcile.mirrored_drift import LiveReading
from modelship_serving.drift_rules import feature_drifted, significant
from prometheus_client.parser import text_string_to_metric_families
from support.custom_resources import model_deployment_body
from support.drift_watch_pod import metrics_server, window_metrics


def test_the_window_is_read_from_drift_watchs_exposition() -> None:
    window = live_window(window_metrics(1000, "fraud-abc", income_shift_in_std=1.0))
    assert not isinstance(window, str)
    assert (window.revision, window.rows) == ("fraud-abc", 1000)
    assert sorted(window.features) == ["age", "city", "income", "plan"]
    income = window.features["income"]
    assert income.psi > 0.5
    assert income.p_value < 1e-6


@pytest.mark.parametrize("shift", [0.0, 0.3, 1.0])
def test_the_operator_judges_a_full_window_as_the_pod_does(shift: float) -> None:
    text = window_metrics(1000, "fraud-abc", income_shift_in_std=shift)
    pods = {
        sample.labels["feature"]: sample.value == 1.0
        for family in text_string_to_metric_families(text)
        if family.name == "modelship_live_drift_drifted"
        for sample in family.samples
    }
    window = live_window(text)
    assert not isinstance(window, str)
    ours = {
        name: feature_drifted(f.psi, significant(f.p_value), 0.2)
        for name, f in window.features.items()
    }
    assert ours == pods
    assert ours["income"] is (shift == 1.0)


def test_a_pod_with_no_window_yet_says_so() -> None:
    assert live_window("") == "it shows no modelship_live_drift_window_rows yet"
    assert "not Prometheus text" in str(live_window("{{{ not metrics"))
    nan_rows = 'modelship_live_drift_window_rows{model="m",revision="r"} NaN\n'
    assert (
        live_window(nan_rows) == "its modelship_live_drift_window_rows is nan, not a count of rows"
    )


def test_a_nan_p_value_is_not_significant() -> None:
    assert not significant(math.nan)
    assert significant(0.001)
    assert not significant(0.01)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.asyncio
async def test_the_pod_is_read_over_http() -> None:
    port = _free_port()
    text = window_metrics(500, "fraud-abc")
    with metrics_server("127.0.0.1", port, lambda: text):
        reading = await scrape_window("127.0.0.1", port)
    assert reading.problem is None
    assert reading.window is not None
    assert reading.window.rows == 500


@pytest.mark.asyncio
async def test_a_pod_that_fails_comes_back_as_a_reason() -> None:
    port = _free_port()
    with metrics_server("127.0.0.1", port, lambda: None):
        failing = await scrape_window("127.0.0.1", port)
    assert failing.window is None
    assert failing.problem == f"http://127.0.0.1:{port}/metrics answered HTTP 503"
    refused = await scrape_window("127.0.0.1", _free_port())
    assert refused.window is None
    assert refused.problem is not None
    assert refused.problem.startswith("http://127.0.0.1:")


def _pod(ready: str, ip: str | None = "10.0.0.9") -> dict[str, Any]:
    condition = {"type": "Ready", "status": ready, "lastTransitionTime": "2026-01-02T03:00:00Z"}
    return {"status": {"podIP": ip, "conditions": [condition]}}


def test_a_pod_counts_as_ready_from_its_ready_conditions_transition() -> None:
    found = ready_since(_pod("True"))
    assert found is not None
    assert (found[0].isoformat(), found[1]) == ("2026-01-02T03:00:00+00:00", "10.0.0.9")
    assert ready_since(_pod("False")) is None
    assert ready_since(_pod("True", ip=None)) is None


class _Pods:
    """The API's pod list, recording what was asked."""

    def __init__(self, pods: list[dict[str, Any]]) -> None:
        self.pods = pods
        self.asked: list[dict[str, str]] = []

    async def list(
        self, api_version: str, kind: str, namespace: str, labels: dict[str, str]
    ) -> list[dict[str, Any]]:
        self.asked.append(labels)
        return self.pods


MIRRORED = ModelDeployment.model_validate(
    model_deployment_body(
        "wine",
        "ml",
        rollout={
            "strategy": "Canary",
            "canary": {"traffic": {"router": "gatewayAPI", "parentRefs": [{"name": "gw"}]}},
        },
        monitoring={"drift": {"mirrorPercent": 5, "window": "1h"}},
    )
)
READY_AT = datetime(2026, 1, 2, 3, 0, tzinfo=UTC)


def _drift_watch_deployment(ready: int) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"name": "wine-drift-watch"},
        "status": {"readyReplicas": ready},
    }


def _gather(
    kube: _Pods, children: list[dict[str, Any]], now: datetime, spec: Any = MIRRORED
) -> tuple[datetime | None, LiveReading]:
    runtime = Runtime(kube=kube)  # type: ignore[arg-type]
    return asyncio.run(read_live_drift(runtime, spec, children, None, now))


def test_gather_asks_for_nothing_without_a_drift_watch_deployment() -> None:
    kube = _Pods([_pod("True", ip="127.0.0.1")])
    assert _gather(kube, [], READY_AT) == (None, LiveReading())
    unmirrored = ModelDeployment.model_validate(model_deployment_body("wine", "ml"))
    assert _gather(kube, [_drift_watch_deployment(1)], READY_AT, unmirrored)[0] is None
    assert kube.asked == []


def test_gather_hands_back_the_pods_while_none_is_ready() -> None:
    """Why the pod cannot start shows on it: decide reads it there, no metrics are asked."""
    starting = _pod("False", ip="127.0.0.1")
    kube = _Pods([starting])
    assert _gather(kube, [_drift_watch_deployment(0)], READY_AT) == (
        None,
        LiveReading(pods=[starting]),
    )
    # The Deployment counts a ready replica its pod list does not show yet: the same.
    assert _gather(kube, [_drift_watch_deployment(1)], READY_AT) == (
        None,
        LiveReading(pods=[starting]),
    )


def test_gather_reads_the_metrics_only_once_a_check_is_due() -> None:
    pod = _pod("True", ip="127.0.0.8")  # this test file's address: nothing listens there
    pod["status"]["conditions"][0]["lastTransitionTime"] = READY_AT.isoformat()
    kube = _Pods([pod])
    ready = [_drift_watch_deployment(1)]
    early = _gather(kube, ready, READY_AT + timedelta(minutes=59))
    assert early == (READY_AT, LiveReading())
    assert kube.asked == [
        {
            "app.kubernetes.io/instance": "wine",
            "app.kubernetes.io/component": "drift-watch",
            "modelship.dev/deployment": "wine",
        }
    ]
    # Due: the pod's port 8003 is read.
    since, reading = _gather(kube, ready, READY_AT + timedelta(hours=1))
    assert since == READY_AT
    assert reading.window is None
    assert reading.problem is not None
    assert reading.problem.startswith("http://127.0.0.8:8003/metrics")
