"""Which revisions are live while a new model version replaces the running one.

One module per strategy behind the `Strategy` interface (`base`); `strategy_for`
picks the one a ModelDeployment asks for: Recreate, or Canary (steps judged on
Triton's counters, `canary.py`).
"""

from __future__ import annotations

from modelship.api.model_deployment import ModelDeployment
from modelship.api.rollout import RolloutStrategy
from modelship.reconcile.rollout.base import (
    CanaryProgress,
    GateRun,
    Phase,
    RolledBack,
    Rollout,
    RolloutState,
    Strategy,
)
from modelship.reconcile.rollout.canary import Canary
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
    "Canary",
    "CanaryProgress",
    "GateRun",
    "Phase",
    "Recreate",
    "RolledBack",
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
CANARY = Canary()


def strategy_for(md: ModelDeployment) -> Strategy:
    """The strategy that rolls out this ModelDeployment's new revisions."""
    return CANARY if md.spec.rollout.strategy == RolloutStrategy.CANARY else RECREATE
