"""The replay of KEDA's ScaledObject webhook refuses what KEDA refuses, with KEDA's words.

Each case changes one thing in an admitted ScaledObject (or in the cluster it is
checked against) and expects KEDA's error, so the property test over rendered
objects cannot pass by a replay that admits everything.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from support.keda_webhook import hpa_name, refusal, scaled_object, scaler_problem


def _deployment(*resources: dict[str, Any]) -> dict[str, Any]:
    containers = [{"name": f"c{i}", "resources": r} for i, r in enumerate(resources)]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "churn-a", "namespace": "ml"},
        "spec": {"template": {"spec": {"containers": containers}}},
    }


def _hpa(name: str, target: str = "churn-a", **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": "ml", **meta},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target}},
    }


CPU = {"requests": {"cpu": "500m"}}
PROMETHEUS = {
    "type": "prometheus",
    "metadata": {"serverAddress": "http://p:9090", "query": "up", "threshold": "1"},
}


def test_a_good_scaled_object_is_admitted() -> None:
    assert refusal(scaled_object(), _deployment(CPU)) is None


def test_a_cpu_limit_counts_as_set() -> None:
    assert refusal(scaled_object(), _deployment({"limits": {"cpu": "1"}})) is None


REFUSED = {
    "cpu trigger, one container without a cpu request": (
        scaled_object(),
        _deployment(CPU, {"requests": {"memory": "1Gi"}}),
        [],
        "the scaledobject has a cpu trigger but the container c1 doesn't have the cpu request",
    ),
    "cpu request of zero": (
        scaled_object(),
        _deployment({"requests": {"cpu": "0"}}),
        [],
        "doesn't have the cpu request defined",
    ),
    "memory trigger without memory": (
        scaled_object(triggers=[{"type": "memory", "metadata": {"value": "80"}}]),
        _deployment(CPU),
        [],
        "has a memory trigger but the container c0 doesn't have the memory request",
    ),
    "cpu trigger, target not there yet": (
        scaled_object(),
        None,
        [],
        'deployments.apps "churn-a" not found',
    ),
    "scale to zero on cpu only": (
        scaled_object(minReplicaCount=0),
        _deployment(CPU),
        [],
        "only cpu/memory triggers AND minReplica is 0",
    ),
    "no minReplicaCount on cpu only": (
        {
            **scaled_object(),
            "spec": {k: v for k, v in scaled_object()["spec"].items() if k != "minReplicaCount"},
        },
        _deployment(CPU),
        [],
        "only cpu/memory triggers AND minReplica is 0",
    ),
    "another HPA targets the workload": (
        scaled_object(),
        _deployment(CPU),
        [_hpa("churn")],
        "the workload 'churn-a' of type 'apps/v1.Deployment' is already managed by the hpa 'churn'",
    ),
    "HPA name too long": (
        {**scaled_object(), "metadata": {"name": "s" * 55, "namespace": "ml"}},
        _deployment(CPU),
        [],
        "derived from scaledobject is 64 characters long",
    ),
    "name too long": (
        {**scaled_object(), "metadata": {"name": "s" * 64, "namespace": "ml"}},
        _deployment(CPU),
        [],
        "is 64 characters long; must be no more than 63",
    ),
    "min above max": (
        scaled_object(minReplicaCount=5, maxReplicaCount=2),
        _deployment(CPU),
        [],
        "MinReplicaCount=5 must be less than MaxReplicaCount=2",
    ),
    "idle not below min": (
        scaled_object(idleReplicaCount=1),
        _deployment(CPU),
        [],
        "IdleReplicaCount=1 must be less than MinReplicaCount=1",
    ),
    "fallback with cpu only": (
        scaled_object(fallback={"failureThreshold": 3, "replicas": 2}),
        _deployment(CPU),
        [],
        "at least one trigger (that is not cpu or memory)",
    ),
    "duplicate trigger names": (
        scaled_object(triggers=[{**PROMETHEUS, "name": "a"}, {**PROMETHEUS, "name": "a"}]),
        None,
        [],
        "triggerName 'a' is defined multiple times",
    ),
    "no triggers": (scaled_object(triggers=[]), None, [], "no triggers defined"),
    "cached metrics on cpu": (
        scaled_object(
            minReplicaCount=1,
            triggers=[
                {**PROMETHEUS},
                {"type": "cpu", "useCachedMetrics": True, "metadata": {"value": "1"}},
            ],
        ),
        _deployment(CPU),
        [],
        "property \"useCachedMetrics\" is not supported for 'cpu' scaler",
    ),
}


@pytest.mark.parametrize(("so", "target", "hpas", "expected"), REFUSED.values(), ids=REFUSED)
def test_keda_refuses(
    so: dict[str, Any], target: dict[str, Any] | None, hpas: list[dict[str, Any]], expected: str
) -> None:
    assert expected in (refusal(so, target, hpas=hpas) or "")


def test_its_own_hpa_and_hpas_of_other_workloads_do_not_count() -> None:
    own = _hpa(
        "keda-hpa-churn",
        ownerReferences=[{"kind": "ScaledObject", "name": "churn", "uid": "u"}],
    )
    other = _hpa("other", target="churn-b")
    opted_out = _hpa("legacy", annotations={"validations.keda.sh/hpa-ownership": "false"})
    assert refusal(scaled_object(), _deployment(CPU), hpas=[own, other, opted_out]) is None


def test_another_scaled_object_on_the_same_workload_is_refused() -> None:
    other = copy.deepcopy(scaled_object())
    other["metadata"]["name"] = "older"
    found = refusal(scaled_object(), _deployment(CPU), scaled_objects=[other, scaled_object()])
    assert found is not None
    assert "is already managed by the ScaledObject 'older'" in found


def test_prometheus_triggers_need_no_resources_and_may_scale_to_zero() -> None:
    so = scaled_object(minReplicaCount=0, triggers=[PROMETHEUS])
    assert refusal(so, None) is None


def test_the_hpa_name_is_keda_hpa_and_the_scaled_object_name() -> None:
    assert hpa_name(scaled_object()) == "keda-hpa-churn"
    named = scaled_object(advanced={"horizontalPodAutoscalerConfig": {"name": "short"}})
    assert hpa_name(named) == "short"


SCALER_PROBLEMS = {
    "cpu without metricType": ({"type": "cpu", "metadata": {"value": "70"}}, "unknown metric type"),
    "cpu utilization not an integer": (
        {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "70.5"}},
        "ParseInt",
    ),
    "prometheus without serverAddress": (
        {**PROMETHEUS, "metadata": {**PROMETHEUS["metadata"], "serverAddress": ""}},
        "missing required parameter 'serverAddress'",
    ),
    "prometheus threshold not a number": (
        {**PROMETHEUS, "metadata": {**PROMETHEUS["metadata"], "threshold": "lots"}},
        "ParseFloat",
    ),
    "prometheus as Utilization": (
        {**PROMETHEUS, "metricType": "Utilization"},
        "unsupported for external metrics",
    ),
    "a scaler not ported": ({"type": "kafka", "metadata": {}}, "not replayed offline"),
}


@pytest.mark.parametrize(("trigger", "expected"), SCALER_PROBLEMS.values(), ids=SCALER_PROBLEMS)
def test_scaler_metadata_keda_cannot_parse_is_reported(
    trigger: dict[str, Any], expected: str
) -> None:
    assert expected in (scaler_problem(trigger) or "")


def test_scaler_metadata_as_modelship_writes_it_parses() -> None:
    assert scaler_problem({**PROMETHEUS, "metricType": "AverageValue"}) is None
    cpu = {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "70"}}
    assert scaler_problem(cpu) is None
