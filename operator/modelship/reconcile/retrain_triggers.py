"""Whether the target deployment's drift starts a run now: a pure decision, table-tested.

A run starts when drift is switched on for this RetrainJob (its `triggers.drift`, or the
ModelDeployment's `monitoring.drift.action: retrain` naming it), the deployment's
`status.drift` says drifted for at least `windows` consecutive checks, no run is in
flight, the cooldown (`minInterval`) since the last triggered run has passed, and this
check (`checkedAt`) has not started a run already. When only the cooldown stands in the
way, the decision says when it ends so that the operator looks again then.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from modelship.api.retrain_job import DriftTrigger, RetrainJob, TriggerRecord
from modelship.reconcile.rollout.analysis import duration

# The summary the trainer gets in MODELSHIP_DRIFT_SUMMARY, at most this long.
SUMMARY_MAX_LENGTH = 4096
SUMMARY_MAX_FEATURES = 32


class _Feature(BaseModel):
    name: str
    psi: float | None = None
    drifted: bool = False


class DriftStatus(BaseModel):
    """What this decision reads of a ModelDeployment's status.drift (other fields ignored)."""

    drifted: bool = False
    checked_at: datetime | None = Field(default=None, alias="checkedAt")
    source: str = ""
    consecutive: int = 0
    features: list[_Feature] = []
    message: str = ""


@dataclass(frozen=True)
class TriggerDecision:
    start: bool
    why: str  # a sentence: why it starts, or why not
    wake_at: datetime | None = None  # the cooldown's end, when only the cooldown holds it back
    checked_at: datetime | None = None  # the check decided on, when the deployment reports one
    summary: str = ""


def drift_trigger(rtj: RetrainJob, target: Mapping[str, Any] | None) -> DriftTrigger | None:
    """The drift trigger in force: the RetrainJob's own, or the deployment's retrain action."""
    own = rtj.spec.triggers.drift if rtj.spec.triggers is not None else None
    if own is not None:
        return own if own.enabled else None
    drift = (((target or {}).get("spec") or {}).get("monitoring") or {}).get("drift") or {}
    if drift.get("action") == "retrain" and drift.get("retrainJob") == rtj.metadata.name:
        return DriftTrigger()
    return None


def drift_status(target: Mapping[str, Any] | None) -> DriftStatus | None:
    raw = ((target or {}).get("status") or {}).get("drift")
    if not isinstance(raw, dict):
        return None
    try:
        return DriftStatus.model_validate(raw)
    except ValidationError:
        return None


def decide_drift_run(
    rtj: RetrainJob,
    target: Mapping[str, Any] | None,
    last: TriggerRecord | None,
    in_flight: bool,
    now: datetime,
) -> TriggerDecision:
    trigger = drift_trigger(rtj, target)
    if trigger is None:
        return TriggerDecision(False, "Drift does not trigger this RetrainJob.")
    if rtj.spec.suspend:
        return TriggerDecision(False, "Suspended: drift starts no run.")
    drift = drift_status(target)
    if drift is None:
        return TriggerDecision(False, "The deployment reports no drift.")
    checked = drift.checked_at
    if not drift.drifted:
        return TriggerDecision(False, "The deployment reports no drift.", checked_at=checked)
    if drift.consecutive < trigger.windows:
        why = (
            f"Drifted for {drift.consecutive} of the {trigger.windows} consecutive windows wanted."
        )
        return TriggerDecision(False, why, checked_at=checked)
    if last is not None and last.checked_at is not None and last.checked_at == checked:
        why = f"The drift check at {_at(drift)} already started {last.run}."
        return TriggerDecision(False, why, checked_at=checked)
    if in_flight:
        why = "A run is in flight; drift waits for it to finish."
        return TriggerDecision(False, why, checked_at=checked)
    if last is not None:
        cooldown_end = last.at + duration(trigger.min_interval)
        if now < cooldown_end:
            why = (
                f"Cooling down until {cooldown_end.isoformat()} (minInterval "
                f"{trigger.min_interval} since {last.run})."
            )
            return TriggerDecision(False, why, wake_at=cooldown_end, checked_at=checked)
    return TriggerDecision(
        True,
        f"Drift for {drift.consecutive} consecutive windows (check at {_at(drift)}).",
        checked_at=drift.checked_at,
        summary=summary(drift),
    )


def run_suffix(checked_at: datetime | None, now: datetime) -> str:
    """`drift-<8 hex>` from the check it answers: the same check names the same Job."""
    key = (checked_at or now).isoformat()
    return "drift-" + hashlib.sha256(key.encode()).hexdigest()[:8]


def summary(drift: DriftStatus) -> str:
    """Compact JSON for the trainer: the check and its most drifted features, bounded."""
    features = sorted(drift.features, key=lambda f: -(f.psi or 0.0))
    features = [f for f in features if f.drifted][:SUMMARY_MAX_FEATURES]
    while True:
        text = json.dumps(
            {
                "checkedAt": _at(drift),
                "source": drift.source,
                "consecutive": drift.consecutive,
                "features": [
                    {"name": f.name, "psi": round(f.psi, 4) if f.psi is not None else None}
                    for f in features
                ],
            },
            separators=(",", ":"),
        )
        if len(text) <= SUMMARY_MAX_LENGTH or not features:
            return text[:SUMMARY_MAX_LENGTH]
        features = features[: len(features) // 2]


def _at(drift: DriftStatus) -> str:
    return drift.checked_at.isoformat() if drift.checked_at is not None else "unknown"
