"""A ModelDeployment's drift (status.drift and the Drifted condition) from its batch runs,
and from mirrored live traffic (reconcile/mirrored_drift.py turns a window into a check).

Each batch Job's `score` container writes a drift summary (modelship_serving.
drift_summary: per-feature PSI and whether the difference is significant for the
batch's size, no data) to its termination message, where gather reads it from the
pod's status without storage credentials. Every finished run is judged once, oldest
first: the ones that completed after status.drift.checkedAt.

The rule, here only: a feature drifted when its PSI is above monitoring.drift.threshold
and the run found the difference significant (the report's chi-square gate, so a small
batch is not flagged for noise); the run drifted when any feature did. `consecutive`
counts drifted checks in a row and `since` is the first of them; a clean check resets
both. A summary that cannot be read leaves status.drift as it was and says why in the
condition; a newer run that reads well moves past it.

Drifted is informational: it does not feed Ready (readiness.py), because a drifted
model still serves what it was asked to; the alert rules, a Warning Event and, with
`action: retrain`, the RetrainJob act on it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from modelship_serving.drift_rules import feature_drifted
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from modelship.api.common import Condition, ConditionStatus
from modelship.api.model_deployment import ModelDeployment
from modelship.api.model_deployment_status import (
    MAX_DRIFT_FEATURES,
    DriftStatus,
    FeatureDriftStatus,
)
from modelship.api.monitoring import DriftMonitoring
from modelship.builders.batch import batch_job_name
from modelship.core.names import SCORE_CONTAINER
from modelship.core.objects import Event, Manifest, terminated, true_condition
from modelship.reconcile import reasons
from modelship.reconcile.batch import runs_by_cron_job
from modelship.reconcile.conditions import Verdict, find

# Features named in a message.
MESSAGE_FEATURES = 3
# Where a termination message that is no summary is quoted, this much of it.
QUOTED_LENGTH = 80


@dataclass(frozen=True)
class CheckedFeature:
    """One feature of a drift check: its PSI, and whether the difference is significant for
    the check's size. As a summary's feature (pydantic validates it there), unknown fields
    are ignored."""

    name: Annotated[str, Field(min_length=1, max_length=128)]
    psi: Annotated[float, Field(allow_inf_nan=False)]
    significant: bool


class BatchDriftSummary(BaseModel):
    """What `modelship score --drift-summary` writes; unknown fields are ignored, so an
    older operator reads a newer image's summary."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    rows: int = Field(ge=0)
    feature_count: int = Field(ge=0, alias="featureCount")
    features: list[CheckedFeature]


@dataclass(frozen=True)
class FinishedRun:
    """A batch Job that completed, and the score container's termination message (None:
    none was found on its pods)."""

    job: str
    finished_at: datetime
    message: str | None = None


@dataclass(frozen=True)
class DriftDecision:
    status: DriftStatus | None
    verdict: Verdict | None  # None: no drift monitoring, no Drifted condition


def drift_monitoring(md: ModelDeployment) -> DriftMonitoring | None:
    return md.spec.monitoring.drift if md.spec.monitoring is not None else None


def runs_to_judge(
    md: ModelDeployment, previous: DriftStatus | None, runs: Sequence[Manifest]
) -> list[FinishedRun]:
    """Completed Jobs of the batch CronJobs not judged yet, oldest first (none without
    drift monitoring)."""
    if drift_monitoring(md) is None:
        return []
    by_cron_job = runs_by_cron_job(runs)
    finished = []
    for job in md.spec.batch:
        for run in by_cron_job.get(batch_job_name(md, job), []):
            completed = (run.get("status") or {}).get("completionTime")
            if isinstance(completed, str) and true_condition(run, "Complete"):
                at = datetime.fromisoformat(completed)
                if previous is None or at > previous.checked_at:
                    finished.append(FinishedRun(run["metadata"]["name"], at))
    return sorted(finished, key=lambda run: (run.finished_at, run.job))


def termination_message(pod: Manifest) -> str | None:
    """The score container's termination message, where it ended well."""
    ended = terminated(pod, SCORE_CONTAINER)
    if ended is None or ended.get("exitCode") != 0:
        return None
    message = ended.get("message")
    return message if isinstance(message, str) else ""


def decide_drift(
    md: ModelDeployment,
    previous: DriftStatus | None,
    runs: Sequence[FinishedRun],
    live: Check | None = None,
    live_note: str | None = None,
    live_reason: str | None = None,
) -> DriftDecision:
    """status.drift after judging ``runs`` (oldest first) and then the ``live`` check taken
    now, and the Drifted condition (``live_note``: why no live check was taken;
    ``live_reason``: the condition's reason for it while no check has finished)."""
    monitoring = drift_monitoring(md)
    if monitoring is None:
        return DriftDecision(None, None)
    status, unreadable = previous, None
    for run in runs:
        summary = parse_summary(run.message)
        if isinstance(summary, str):
            unreadable = f"The drift summary of Job {run.job} cannot be read: {summary}."
            continue
        status = judge(status, batch_check(run, summary), monitoring.threshold)
        unreadable = None
    if live is not None:
        status = judge(status, live, monitoring.threshold)
    return DriftDecision(status, _verdict(status, unreadable, live_note, live_reason))


def parse_summary(message: str | None) -> BatchDriftSummary | str:
    """The summary in a termination message, or why there is none."""
    if message is None:
        return "no pod of it shows how its score container ended"
    if not message.strip():
        return (
            "its termination message is empty (a score image older than --drift-summary"
            " writes none)"
        )
    try:
        return BatchDriftSummary.model_validate(json.loads(message))
    except (ValueError, ValidationError):
        return f"its termination message is not a drift summary: {message[:QUOTED_LENGTH]!r}"


@dataclass(frozen=True)
class Check:
    """One drift check, whatever it came from: a batch run's summary or a live window."""

    source: str  # batch/<Job> or live/<revision>
    at: datetime
    rows: int
    feature_count: int  # features checked; ``features`` may list fewer
    features: Sequence[CheckedFeature]
    live: bool = False


def batch_check(run: FinishedRun, summary: BatchDriftSummary) -> Check:
    return Check(
        f"batch/{run.job}", run.finished_at, summary.rows, summary.feature_count, summary.features
    )


def judge(previous: DriftStatus | None, check: Check, threshold: float) -> DriftStatus:
    """One check's drift, counted into the streak ``previous`` holds (batch and live checks
    count into the same streak: the latest check wins)."""
    ranked = sorted(check.features, key=lambda feature: (-feature.psi, feature.name))
    features = [
        FeatureDriftStatus(
            name=feature.name,
            psi=feature.psi,
            drifted=feature_drifted(feature.psi, feature.significant, threshold),
        )
        for feature in ranked
    ]
    worst = [feature for feature in features if feature.drifted]
    drifted = bool(worst)
    streak = previous is not None and previous.drifted and drifted
    return DriftStatus(
        drifted=drifted,
        checked_at=check.at,
        source=check.source,
        consecutive=(previous.consecutive if streak and previous else 0) + (1 if drifted else 0),
        since=(previous.since if streak and previous else check.at) if drifted else None,
        features=features[:MAX_DRIFT_FEATURES],
        message=_message(check, worst, features, threshold),
        live_checked_at=check.at if check.live else _live_checked_at(previous),
    )


def _live_checked_at(previous: DriftStatus | None) -> datetime | None:
    return previous.live_checked_at if previous is not None else None


def _message(
    check: Check,
    worst: Sequence[FeatureDriftStatus],
    features: Sequence[FeatureDriftStatus],
    threshold: float,
) -> str:
    checked = f"{check.source} ({check.rows} rows, {check.feature_count} features)"
    unlisted = check.feature_count - len(features)
    tail = f"; {unlisted} features with lower PSI were not reported" if unlisted > 0 else ""
    if worst:
        named = ", ".join(f"{f.name} (PSI {f.psi:.2f})" for f in worst[:MESSAGE_FEATURES])
        more = len(worst) - MESSAGE_FEATURES
        others = f" and {more} more" if more > 0 else ""
        return (
            f"{len(worst)} feature(s) drifted in {checked} beyond PSI {threshold:g}:"
            f" {named}{others}{tail}."
        )[:1024]
    highest = f"; highest PSI {features[0].name} ({features[0].psi:.2f})" if features else ""
    return f"No feature drifted in {checked} beyond PSI {threshold:g}{highest}{tail}."[:1024]


def _verdict(
    status: DriftStatus | None,
    unreadable: str | None,
    live_note: str | None,
    live_reason: str | None = None,
) -> Verdict:
    note = "".join(f" {text}" for text in (unreadable, live_note) if text)
    if status is None:
        if unreadable:
            return Verdict(
                reasons.DRIFTED,
                ConditionStatus.UNKNOWN,
                reasons.DRIFT_SUMMARY_UNREADABLE,
                unreadable + (f" {live_note}" if live_note else ""),
            )
        return Verdict(
            reasons.DRIFTED,
            ConditionStatus.UNKNOWN,
            live_reason or reasons.AWAITING_DRIFT_CHECK,
            "No batch run has finished a drift check yet." + note
            if live_note is None
            else "No drift check of batch runs or live traffic has finished yet." + note,
        )
    if status.drifted:
        return Verdict.true(reasons.DRIFTED, reasons.DRIFTED, (status.message + note)[:1024])
    return Verdict.false(reasons.DRIFTED, reasons.NO_DRIFT, (status.message + note)[:1024])


def drift_events(before: Sequence[Condition], after: Sequence[Condition]) -> list[Event]:
    """A Warning when Drifted turns True, a Normal Event when it clears."""
    old, new = find(before, reasons.DRIFTED), find(after, reasons.DRIFTED)
    if new is None or (old is not None and old.status == new.status):
        return []
    if new.status == ConditionStatus.TRUE:
        return [Event("Warning", reasons.DRIFTED, new.message)]
    if new.status == ConditionStatus.FALSE and old is not None and old.status == "True":
        return [Event("Normal", reasons.NO_DRIFT, new.message)]
    return []


def without_drifted(conditions: Sequence[Condition]) -> list[Condition]:
    """The conditions, less a Drifted one left from when drift was monitored."""
    return [condition for condition in conditions if condition.type != reasons.DRIFTED]


def by_job(runs: Sequence[FinishedRun], messages: Mapping[str, str]) -> list[FinishedRun]:
    """``runs`` with the termination messages gather read."""
    return [FinishedRun(run.job, run.finished_at, messages.get(run.job)) for run in runs]
