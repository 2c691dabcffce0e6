"""A ModelDeployment's drift on mirrored live traffic (monitoring.drift.mirrorPercent).

The drift-watch pod (builders/drift_watch.py) counts the Gateway's copies of requests into
the stable revision's reference bins over `monitoring.drift.window` and shows each
feature's PSI and p-value on its metrics port. Once the pod has been ready a whole window
(so its window is full), and then once per window, gather reads those metrics and this
module turns them into a check that reconcile/drift.py judges with the same per-feature
rule as a batch run's summary, into the same status.drift (source `live/<revision>`): the
latest check wins, and the streak counts batch and live checks alike, so
retrain_triggers acts on either.

A drift-watch pod that cannot start (its model fetch failing, its image not pulled, the
credentials Secret missing, drift-watch exiting) is reported as a serving pod's is
(reconcile/pods.py), in the Drifted condition's message and, before any check, its reason:
what the kubelet keeps on the pod (the last failure, not the moment's state) holds steady
across restarts, so the condition does not flap.

No check is taken while the window holds fewer rows than drift-watch judges
(`--min-window-rows`): that is "not enough traffic yet", said in the Drifted condition's
message and looked at again a slice of the window later. A read that fails, or a pod
still watching an earlier revision, leaves status.drift as it was and says why; the next
reconcile tries again (`wake_at`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from modelship_serving.drift_rules import significant

from modelship.api.base import duration
from modelship.api.model_deployment import ModelDeployment
from modelship.api.model_deployment_status import DriftStatus
from modelship.builders.defaults import DRIFT_MIN_WINDOW_ROWS
from modelship.builders.drift_watch import mirrored_drift
from modelship.reconcile.drift import Check, CheckedFeature
from modelship.reconcile.pods import revision_problem

# drift-watch's window moves by a 24th of it (a slice): no sooner is anything new to read.
WINDOW_SLICES = 24
# A failed read or a short window is looked at again no sooner than this.
MIN_RETRY = timedelta(seconds=30)


@dataclass(frozen=True)
class FeatureWindow:
    psi: float
    p_value: float


@dataclass(frozen=True)
class LiveWindow:
    """What drift-watch's metrics show: the revision it watches, the window's rows, and
    each feature's PSI and p-value over the window."""

    revision: str
    rows: int
    features: Mapping[str, FeatureWindow]


@dataclass(frozen=True)
class LiveReading:
    """What gather found: the window, or why it could not be read (None: not read); and
    while no drift-watch pod is ready, its pods (why one cannot start shows on them)."""

    window: LiveWindow | None = None
    problem: str | None = None
    pods: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True)
class LiveOutcome:
    check: Check | None = None  # the check to judge into status.drift
    note: str | None = None  # what the Drifted condition adds: why there is no check
    reason: str | None = None  # Drifted's reason before any check, where the pod cannot start
    wake_at: datetime | None = None  # when to look again


def check_due(
    md: ModelDeployment, previous: DriftStatus | None, ready_since: datetime | None
) -> datetime | None:
    """When the next live check is due: a window after the pod became ready and after the
    last live check (None: live traffic is not mirrored, or the pod is not ready)."""
    mirrored = mirrored_drift(md)
    if mirrored is None or ready_since is None:
        return None
    window = duration(mirrored[0].window)
    last = previous.live_checked_at if previous is not None else None
    return max(ready_since, last or ready_since) + window


def decide_live(
    md: ModelDeployment,
    previous: DriftStatus | None,
    stable: str,
    ready_since: datetime | None,
    reading: LiveReading,
    now: datetime,
) -> LiveOutcome:
    """The live check to judge now, if one is due and readable, and when to look again."""
    mirrored = mirrored_drift(md)
    due = check_due(md, previous, ready_since)
    if mirrored is None:
        return LiveOutcome()
    if due is None:
        stuck = revision_problem(reading.pods, md.metadata.namespace)
        if stuck is not None:
            note = f"The drift-watch pod cannot start: {stuck.message}"
            return LiveOutcome(note=note, reason=stuck.reason)
        return LiveOutcome(note="The drift-watch pod is not ready yet.")
    if now < due:
        return LiveOutcome(note=f"The next live check is due at {due.isoformat()}.", wake_at=due)
    window = duration(mirrored[0].window)
    retry = now + max(MIN_RETRY, window / WINDOW_SLICES)
    found = reading.window
    if found is None:
        problem = reading.problem or "it was not read"
        note = f"The drift-watch pod's metrics cannot be read: {problem}."
        return LiveOutcome(note=note, wake_at=retry)
    if found.revision != stable:
        note = (
            f"The drift-watch pod still watches revision {found.revision or 'unknown'}, not the"
            f" stable {stable}."
        )
        return LiveOutcome(note=note, wake_at=retry)
    if found.rows < DRIFT_MIN_WINDOW_ROWS:
        note = (
            f"Not enough live traffic yet: {found.rows} mirrored rows in the last"
            f" {mirrored[0].window}, a check needs {DRIFT_MIN_WINDOW_ROWS}."
        )
        return LiveOutcome(note=note, wake_at=retry)
    features = [
        CheckedFeature(name, feature.psi, significant(feature.p_value))
        for name, feature in found.features.items()
    ]
    check = Check(f"live/{found.revision}", now, found.rows, len(features), features, live=True)
    return LiveOutcome(check=check, wake_at=now + window)
