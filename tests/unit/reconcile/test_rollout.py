"""The Recreate rollout: which revisions are live, and when the new one takes over."""

from __future__ import annotations

from typing import Any

import pytest
from modelship.api.model_deployment import ModelDeployment
from modelship.builders import ResolvedModel, revision_for
from modelship.reconcile.history import bounded
from modelship.reconcile.rollout import Phase, recreate, rollout_complete

MD = ModelDeployment.model_validate(
    {
        "metadata": {"name": "wine", "namespace": "ml", "uid": "u"},
        "spec": {"model": {"name": "wine", "version": "2", "uri": "s3://m/2"}},
    }
)


def revision(version: str) -> Any:
    model = ResolvedModel(
        name="wine", version=version, uri=f"s3://m/{version}", format=MD.spec.model.format
    )
    return revision_for(MD, model)


def deployment(replicas: int, available: int, generation: int = 1, observed: int = 1) -> Any:
    return {
        "metadata": {"generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "availableReplicas": available,
        },
    }


V1, V2 = revision("1"), revision("2")


@pytest.mark.parametrize(
    ("stable", "live", "phase", "live_revisions"),
    [
        (None, {}, Phase.STEADY, [V2.name]),
        (V2, {}, Phase.STEADY, [V2.name]),
        (V1, {}, Phase.ROLLING_OUT, [V1.name, V2.name]),
        (V1, {V2.name: deployment(1, 0)}, Phase.ROLLING_OUT, [V1.name, V2.name]),
        (V1, {V2.name: deployment(1, 1)}, Phase.PROMOTED, [V2.name]),
    ],
)
def test_recreate(
    stable: Any, live: dict[str, Any], phase: Phase, live_revisions: list[str]
) -> None:
    rollout = recreate(MD, V2, stable, live)
    assert rollout.phase == phase
    assert [plan.revision.name for plan in rollout.plan.live] == live_revisions
    if rollout.plan.canary is not None:
        assert rollout.plan.canary.weight == 0, "Recreate sends no traffic to the new revision"


@pytest.mark.parametrize(
    ("live", "complete"),
    [
        (deployment(2, 2), True),
        (deployment(2, 1), False),
        (deployment(2, 2, generation=2, observed=1), False),
        (deployment(0, 0), True),
    ],
)
def test_rollout_complete_as_kubectl_judges_it(live: Any, complete: bool) -> None:
    assert rollout_complete(live) is complete


def test_history_keeps_the_newest() -> None:
    assert bounded(list(range(15)), 10) == list(range(10))
