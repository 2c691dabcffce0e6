"""Which revisions are live while a new model version replaces the running one.

One module per strategy behind the `Strategy` interface (`base`); `strategy_for`
picks the one a ModelDeployment asks for. Only Recreate is implemented: a canary
strategy goes in `canary.py` beside it, and `strategy_for` returns it for
`spec.rollout.strategy: Canary` (which until then rolls out as Recreate does, with
the canary's routes built and its weight at 0).
"""

from __future__ import annotations

from modelship.api.model_deployment import ModelDeployment
from modelship.reconcile.rollout.base import Phase, Rollout, RolloutState, Strategy
from modelship.reconcile.rollout.deployments import (
    available_replicas,
    deadline_exceeded,
    ready_replicas,
    rollout_complete,
    wanted_replicas,
)
from modelship.reconcile.rollout.recreate import Recreate, recreate
from modelship.reconcile.rollout.stable import stable_revision

__all__ = [
    "Phase",
    "Recreate",
    "Rollout",
    "RolloutState",
    "Strategy",
    "available_replicas",
    "deadline_exceeded",
    "ready_replicas",
    "recreate",
    "rollout_complete",
    "stable_revision",
    "strategy_for",
    "wanted_replicas",
]

RECREATE = Recreate()


def strategy_for(md: ModelDeployment) -> Strategy:
    """The strategy that rolls out this ModelDeployment's new revisions."""
    return RECREATE
