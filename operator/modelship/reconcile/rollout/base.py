"""What every rollout strategy shares: the step it decides and the interface it implements.

A strategy looks at the spec, the revision wanted, the stable one and the live
Deployments, and says which revisions are live with what share of traffic. A
step that would change by itself later (a canary pause that ends, an analysis
interval) says when in `wake_at`; the handler then reconciles again at that time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from modelship.api.model_deployment import ModelDeployment
from modelship.builders import Revision, RolloutPlan


class Phase(StrEnum):
    STEADY = "Steady"  # one revision, the one the spec asks for
    ROLLING_OUT = "RollingOut"  # the wanted revision starts while the stable one serves
    PROMOTED = "Promoted"  # the wanted revision just became available and takes over


@dataclass(frozen=True)
class Rollout:
    plan: RolloutPlan
    phase: Phase
    retiring: Revision | None = None  # the revision a promotion replaces
    # When this step changes by itself with nothing else changing (None: only on a change).
    wake_at: datetime | None = None


@dataclass(frozen=True)
class RolloutState:
    """What a strategy decides its next step from."""

    md: ModelDeployment
    target: Revision  # the revision the spec asks for
    stable: Revision | None  # the revision that serves now, as the status recorded it
    deployments: Mapping[str, Mapping[str, Any]]  # the live Deployments, by revision name
    now: datetime


class Strategy(Protocol):
    """A rollout strategy: the next step, from the state of the rollout."""

    def step(self, state: RolloutState) -> Rollout: ...
