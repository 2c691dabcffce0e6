"""What every rollout strategy shares: the step it decides and the interface it implements.

A strategy looks at the spec, the revision wanted, the stable one and the live
Deployments, and says which revisions are live with what share of traffic. A
step that would change by itself later (a canary pause that ends, an analysis
interval) says when in `wake_at`; the handler then reconciles again at that time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from modelship.api.model_deployment import ModelDeployment
from modelship.api.model_deployment_status import (
    AnalysisResult,
    AnalysisWindow,
    CanaryStatus,
    PredictionGateStatus,
    RequestCounters,
)
from modelship.builders import Revision, RolloutPlan
from modelship.core.objects import Event
from modelship.reconcile.rollout.analysis import Tally
from modelship.reconcile.rollout.commands import Command


class Phase(StrEnum):
    STEADY = "Steady"  # one revision, the one the spec asks for
    ROLLING_OUT = "RollingOut"  # the wanted revision starts while the stable one serves
    PROMOTED = "Promoted"  # the wanted revision just became available and takes over


@dataclass(frozen=True)
class CanaryProgress:
    """Where a canary is, as `status.canary` keeps it so that a restart resumes there."""

    step: int  # index into canary.steps; len(steps) while promoting
    step_started_at: datetime | None  # when the step's weight first reached a ready pod
    tally: Tally  # failed measurements so far, by what failed
    window: AnalysisWindow | None  # the measurement window in progress
    analyses: tuple[AnalysisResult, ...]  # newest first, bounded
    paused: bool = False  # held at its step by a person until resumed or promoted
    prediction_gate: PredictionGateStatus | None = None  # before the first step, if asked for


@dataclass(frozen=True)
class GateRun:
    """A finished prediction gate Job: whether it succeeded, and its compare container's
    termination message (the JSON `modelship compare` writes)."""

    succeeded: bool
    message: str


@dataclass(frozen=True)
class RolledBack:
    """A canary revision that failed its analysis; it is not retried until the model changes."""

    revision: Revision
    message: str


@dataclass(frozen=True)
class Rollout:
    plan: RolloutPlan
    phase: Phase
    retiring: Revision | None = None  # the revision a promotion replaces
    # When this step changes by itself with nothing else changing (None: only on a change).
    wake_at: datetime | None = None
    canary: CanaryProgress | None = None  # a canary strategy's state, for status.canary
    # Progressing's reason and message while a strategy knows better than the Deployments.
    progressing: tuple[str, str] | None = None
    rolled_back: RolledBack | None = None  # the wanted revision, rolled back
    retried: Revision | None = None  # a rolled-back revision a person asked to retry
    events: tuple[Event, ...] = ()  # the strategy's own transitions


@dataclass(frozen=True)
class RolloutState:
    """What a strategy decides its next step from."""

    md: ModelDeployment
    target: Revision  # the revision the spec asks for
    stable: Revision | None  # the revision that serves now, as the status recorded it
    deployments: Mapping[str, Mapping[str, Any]]  # the live Deployments, by revision name
    now: datetime
    canary: CanaryStatus | None = None  # what the status recorded of the canary
    # Triton's counters summed over each revision's ready pods, by revision name, as the
    # handler scraped them; a revision missing was not (or could not be) scraped.
    metrics: Mapping[str, RequestCounters] = field(default_factory=dict)
    # Revisions rolled back, by name, with why (from status.history).
    rolled_back: Mapping[str, str] = field(default_factory=dict)
    # A person's command not yet acted on (the rollout.modelship.dev/command annotation).
    command: Command | None = None
    # Finished prediction gate Jobs, by Job name, as gather read them.
    gate_runs: Mapping[str, GateRun] = field(default_factory=dict)


class Strategy(Protocol):
    """A rollout strategy: the next step, from the state of the rollout."""

    def step(self, state: RolloutState) -> Rollout: ...
