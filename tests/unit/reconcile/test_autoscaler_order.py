"""Switching the autoscaling engine deletes the old autoscaler before creating the new one.

KEDA's webhook refuses a ScaledObject while another HPA targets its Deployment, so
a create before the delete would be refused on every reconcile, for good.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from modelship.core.objects import Create, Delete
from modelship.reconcile.model_deployment import Observed, decide
from support.reconcile_states import NOW, as_live, md_body

HPA = {"maxReplicas": 4, "metrics": [{"type": "cpu", "target": 70}]}
KEDA = {**HPA, "engine": "keda"}


def _settled(autoscaling: dict[str, Any]) -> Observed:
    """Reconciled until nothing is left to create, as a cooperative API server would."""
    body = md_body(autoscaling=autoscaling, serving={"resources": {"requests": {"cpu": "1"}}})
    observed = Observed(body=body, children=[], now=NOW)
    while True:
        decision = decide(observed)
        creates = [a for a in decision.actions if isinstance(a, Create)]
        if not creates:
            return observed
        children = [*observed.children, *(as_live(dict(a.manifest), True) for a in creates)]
        observed = Observed(body={**body, "status": decision.status}, children=children, now=NOW)


def _switched(observed: Observed, autoscaling: dict[str, Any]) -> Observed:
    body = copy.deepcopy(dict(observed.body))
    body["spec"]["autoscaling"] = autoscaling
    return dataclasses.replace(observed, body=body)


def _autoscaler_actions(observed: Observed) -> list[tuple[str, str]]:
    kinds = {"HorizontalPodAutoscaler", "ScaledObject"}
    return [(type(a).__name__, a.ref.kind) for a in decide(observed).actions if a.ref.kind in kinds]


def _without(observed: Observed, kind: str) -> Observed:
    return dataclasses.replace(
        observed, children=[c for c in observed.children if c["kind"] != kind]
    )


def test_hpa_to_keda_deletes_the_hpa_and_creates_the_scaled_object_once_it_is_gone() -> None:
    switched = _switched(_settled(HPA), KEDA)
    assert _autoscaler_actions(switched) == [("Delete", "HorizontalPodAutoscaler")]
    gone = _without(switched, "HorizontalPodAutoscaler")
    assert _autoscaler_actions(gone) == [("Create", "ScaledObject")]


def test_keda_to_hpa_deletes_the_scaled_object_and_creates_the_hpa_once_it_is_gone() -> None:
    switched = _switched(_settled(KEDA), HPA)
    assert _autoscaler_actions(switched) == [("Delete", "ScaledObject")]
    gone = _without(switched, "ScaledObject")
    assert _autoscaler_actions(gone) == [("Create", "HorizontalPodAutoscaler")]


def test_a_scaled_object_kedas_finalizer_holds_is_not_deleted_again_and_blocks_the_hpa() -> None:
    switched = _switched(_settled(KEDA), HPA)
    children = []
    for child in switched.children:
        child = copy.deepcopy(dict(child))
        if child["kind"] == "ScaledObject":
            child["metadata"]["deletionTimestamp"] = "2026-01-02T03:04:06Z"
            child["metadata"]["finalizers"] = ["finalizer.keda.sh"]
        children.append(child)
    assert _autoscaler_actions(dataclasses.replace(switched, children=children)) == []


def test_other_changes_go_ahead_while_the_new_autoscaler_waits() -> None:
    switched = _switched(_settled(HPA), KEDA)
    body = copy.deepcopy(dict(switched.body))
    body["spec"]["serving"]["resources"]["requests"]["cpu"] = "2"
    actions = decide(dataclasses.replace(switched, body=body)).actions
    assert isinstance(actions[0], Delete)
    assert actions[0].ref.kind == "HorizontalPodAutoscaler"
    assert [(type(a).__name__, a.ref.kind) for a in actions[1:]] == [("Patch", "Deployment")]


def test_a_scaled_object_waits_for_its_deployment_to_be_created_first() -> None:
    """KEDA's webhook refuses a ScaledObject with a cpu trigger whose Deployment it cannot find."""
    body = md_body(autoscaling=KEDA, serving={"resources": {"requests": {"cpu": "1"}}})
    first = decide(Observed(body=body, children=[], now=NOW))
    created = [a.ref.kind for a in first.actions if isinstance(a, Create)]
    assert "Deployment" in created
    assert "ScaledObject" not in created
    children = [as_live(dict(a.manifest)) for a in first.actions if isinstance(a, Create)]
    second = decide(Observed(body={**body, "status": first.status}, children=children, now=NOW))
    assert [(type(a).__name__, a.ref.kind) for a in second.actions] == [("Create", "ScaledObject")]
