"""The operator's per-object series: set from the status it writes, gone with the object,
and an exposition that promtool's linter accepts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from modelship.handlers import metrics
from prometheus_client import REGISTRY, generate_latest
from support.promtool_runner import run_promtool
from support.reconcile_states import first_drift


@pytest.fixture(autouse=True)
def _forget_what_was_observed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The series live in the process-wide registry: leave none behind for later tests."""
    observed: list[Mapping[str, Any]] = []
    observe = metrics.observe_status

    def observe_and_remember(body: Mapping[str, Any], status: Mapping[str, Any]) -> None:
        observed.append(body)
        observe(body, status)

    monkeypatch.setattr(metrics, "observe_status", observe_and_remember)
    yield
    for body in observed:
        metrics.forget(body)


def _md(name: str, uid: str) -> dict[str, Any]:
    return {"kind": "ModelDeployment", "metadata": {"namespace": "ml", "name": name, "uid": uid}}


def _condition(type_: str, status: str, reason: str) -> dict[str, str]:
    return {"type": type_, "status": status, "reason": reason, "message": "m"}


def _condition_series(name: str, type_: str, status: str, reason: str) -> str:
    """The modelship_resource_condition line of ModelDeployment ``name``'s condition."""
    labels = f'kind="ModelDeployment",name="{name}",namespace="ml",reason="{reason}"'
    return f'modelship_resource_condition{{{labels},status="{status}",type="{type_}"}} 1.0'


def _series(name: str) -> set[str]:
    """Lines of the exposition for this object name, as 'metric{labels} value'."""
    text = generate_latest(REGISTRY).decode()
    return {line for line in text.splitlines() if f'name="{name}"' in line}


SERVING = {
    "conditions": [
        _condition("Ready", "True", "Serving"),
        _condition("Degraded", "False", "AsExpected"),
    ],
    "batch": [
        {"name": "nightly", "lastSuccessfulTime": "2026-11-29T02:00:00Z"},
        {
            "name": "hourly",
            "lastSuccessfulTime": "2026-11-29T01:00:00Z",
            "lastFailureTime": "2026-11-29T02:00:00Z",
        },
    ],
}
FAILED = {
    "conditions": [
        _condition("Ready", "False", "RolloutFailed"),
        _condition("Degraded", "True", "RolloutFailed"),
    ],
}


def test_ready_conditions_and_batch_failures_follow_the_status() -> None:
    metrics.observe_status(_md("follows", "u1"), SERVING)
    assert _series("follows") == {
        'modelship_resource_ready{kind="ModelDeployment",name="follows",namespace="ml"} 1.0',
        _condition_series("follows", "Ready", "True", "Serving"),
        _condition_series("follows", "Degraded", "False", "AsExpected"),
        'modelship_batch_job_failed{batch_job="nightly",name="follows",namespace="ml"} 0.0',
        'modelship_batch_job_failed{batch_job="hourly",name="follows",namespace="ml"} 1.0',
    }
    # A new status replaces the old series rather than adding to them.
    metrics.observe_status(_md("follows", "u1"), FAILED)
    assert _series("follows") == {
        'modelship_resource_ready{kind="ModelDeployment",name="follows",namespace="ml"} 0.0',
        _condition_series("follows", "Ready", "False", "RolloutFailed"),
        _condition_series("follows", "Degraded", "True", "RolloutFailed"),
    }


DRIFTED = {
    "drift": first_drift(
        "2026-11-29T02:05:00Z",
        "batch/wine-nightly-29401234",
        [("age", 1.5, True), ("plan", 0.01, False)],
        "m",
    )
}


def test_drift_follows_the_status_per_feature_and_goes_with_the_object() -> None:
    metrics.observe_status(_md("drifting", "u4"), DRIFTED)
    drift = {line for line in _series("drifting") if line.startswith("modelship_drift")}
    assert drift == {
        'modelship_drift_detected{name="drifting",namespace="ml",source="batch"} 1.0',
        'modelship_drift_psi{feature="age",name="drifting",namespace="ml",source="batch"} 1.5',
        'modelship_drift_psi{feature="plan",name="drifting",namespace="ml",source="batch"} 0.01',
    }
    clean = {**DRIFTED["drift"], "drifted": False, "features": [{"name": "age", "psi": 0.02}]}
    metrics.observe_status(_md("drifting", "u4"), {"drift": clean})
    drift = {line for line in _series("drifting") if line.startswith("modelship_drift")}
    assert drift == {
        'modelship_drift_detected{name="drifting",namespace="ml",source="batch"} 0.0',
        'modelship_drift_psi{feature="age",name="drifting",namespace="ml",source="batch"} 0.02',
    }
    metrics.forget(_md("drifting", "u4"))
    assert _series("drifting") == set()


def test_an_object_without_conditions_yet_is_not_ready() -> None:
    metrics.observe_status(_md("fresh", "u2"), {})
    assert _series("fresh") == {
        'modelship_resource_ready{kind="ModelDeployment",name="fresh",namespace="ml"} 0.0'
    }


def test_deletion_leaves_no_series_but_spares_a_new_object_of_the_same_name() -> None:
    metrics.observe_status(_md("gone", "old"), SERVING)
    metrics.forget(_md("gone", "old"))
    assert _series("gone") == set()

    metrics.observe_status(_md("again", "old"), SERVING)
    metrics.observe_status(_md("again", "new"), FAILED)  # recreated before the old one's DELETED
    metrics.forget(_md("again", "old"))
    assert len(_series("again")) == 3, "the new object's series stay"
    metrics.forget(_md("again", "new"))
    assert _series("again") == set()


def test_promtool_accepts_the_exposition() -> None:
    metrics.observe_status(_md("linted", "u3"), SERVING | DRIFTED)
    metrics.RECONCILES.labels("ModelDeployment", "create").inc()
    with metrics.RECONCILE_SECONDS.labels("ModelDeployment").time():
        pass
    run_promtool("check", "metrics", stdin=generate_latest(REGISTRY).decode())
