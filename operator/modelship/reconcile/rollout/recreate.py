"""Recreate: the new revision starts beside the stable one, which keeps serving;
once the new one is available it becomes stable and the old one goes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelship.api.model_deployment import ModelDeployment
from modelship.builders import Revision, RevisionPlan, RolloutPlan, steady_plan
from modelship.reconcile.rollout.base import Phase, Rollout, RolloutState
from modelship.reconcile.rollout.deployments import rollout_complete


class Recreate:
    """The Recreate strategy; it never needs waking: each step follows a Deployment's change."""

    def step(self, state: RolloutState) -> Rollout:
        return recreate(state.md, state.target, state.stable, state.deployments)


def recreate(
    md: ModelDeployment,
    target: Revision,
    stable: Revision | None,
    deployments: Mapping[str, Mapping[str, Any]],
) -> Rollout:
    """The Recreate rollout step, from the live Deployments by revision name."""
    steady = steady_plan(md, target.model)
    if stable is None or stable.name == target.name:
        return Rollout(steady, Phase.STEADY)
    new = deployments.get(target.name)
    if new is not None and rollout_complete(new):
        return Rollout(steady, Phase.PROMOTED, retiring=stable)
    replicas = steady.stable.replicas
    plan = RolloutPlan(
        stable=RevisionPlan(stable, replicas=replicas),
        canary=RevisionPlan(target, replicas=replicas, weight=0),
    )
    return Rollout(plan, Phase.ROLLING_OUT)
