"""What a canary step asks of the cluster: the revisions' pods and weights, or the stable
revision alone after a rollback."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from modelship.api.canary_traffic import TrafficRouter
from modelship.api.rollout import CanarySpec
from modelship.builders import Revision, RevisionPlan, RolloutPlan
from modelship.core.objects import Event
from modelship.reconcile.rollout.base import Phase, RolledBack, Rollout, RolloutState


def step_plan(
    settings: CanarySpec,
    stable: Revision,
    target: Revision,
    total: int | None,
    index: int,
    weight: int,
    prediction_gate: bool = False,
) -> RolloutPlan:
    wanted = settings.steps[index].weight
    return RolloutPlan(
        stable=RevisionPlan(stable, replicas=total, weight=100 - weight),
        canary=RevisionPlan(
            target, replicas=canary_replicas(settings, total, wanted), weight=weight
        ),
        prediction_gate=prediction_gate,
    )


def canary_replicas(settings: CanarySpec, total: int | None, weight: int) -> int | None:
    """The canary's pods for a weight, beside `total` stable pods (None: autoscaled)."""
    if total is None:
        return None
    if settings.traffic.router == TrafficRouter.GATEWAY_API or weight >= 100:
        # The route splits traffic: enough pods to carry the weight at stable's load per pod.
        return max(1, math.ceil(total * weight / 100))
    return max(1, round(total * weight / (100 - weight)))


def sized(live: Mapping[str, Any], total: int | None) -> bool:
    if total is None:
        return True
    return int(live.get("spec", {}).get("replicas", 1)) >= total


def rollback(state: RolloutState, total: int | None, message: str, *events: Event) -> Rollout:
    target, stable = state.target, state.stable
    assert stable is not None
    kept = RolloutPlan(stable=RevisionPlan(stable, replicas=total))
    return Rollout(kept, Phase.STEADY, rolled_back=RolledBack(target, message), events=events)
