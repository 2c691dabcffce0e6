"""The last runs of a ModelDeployment's batch jobs: from its CronJobs and the Jobs they started.

A CronJob's status says when it last started and last succeeded; a failure shows
only on the Job that failed, and that Job is removed once it falls out of the
CronJob's history. So the last failure is taken from a failed Job when it is
newer than the one recorded, and otherwise kept as recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from modelship.api.model_deployment import BatchJobStatus, ModelDeployment
from modelship.builders.batch import batch_job_name
from modelship.core.names import SCORE_CONTAINER
from modelship.core.objects import Event, Manifest, terminated, true_condition
from modelship.reconcile import reasons

# Long enough for a reason and the controller's sentence; a status is no log.
MAX_MESSAGE_LENGTH = 256


@dataclass(frozen=True)
class Failure:
    """One failed Job: when it failed and why, in the Job controller's words."""

    job: str
    time: datetime
    message: str


def failure_of(job: Manifest) -> Failure | None:
    """The Job's `Failed=True` condition (BackoffLimitExceeded, DeadlineExceeded, ...)."""
    condition = true_condition(job, "Failed")
    if condition is None:
        return None
    at = condition.get("lastTransitionTime") or condition.get("lastProbeTime")
    if not isinstance(at, str):
        return None
    reason, said = condition.get("reason") or "Failed", condition.get("message")
    return Failure(
        job["metadata"]["name"],
        datetime.fromisoformat(at),
        f"{reason}: {said}" if said else reason,
    )


def exit_of(pod: Manifest) -> str | None:
    """How the score container ended: its reason and exit code, never its output."""
    ended = terminated(pod, SCORE_CONTAINER) or {}
    if ended.get("exitCode"):
        reason = ended.get("reason") or "Error"
        return f"{SCORE_CONTAINER} ended with {reason} (exit code {ended['exitCode']})"
    return None


def runs_by_cron_job(runs: Sequence[Manifest]) -> dict[str, list[Manifest]]:
    by_owner: dict[str, list[Manifest]] = {}
    for run in runs:
        for ref in run["metadata"].get("ownerReferences") or []:
            if ref.get("controller") and ref.get("kind") == "CronJob":
                by_owner.setdefault(ref["name"], []).append(run)
    return by_owner


def completed_indexes(text: str | None) -> int:
    """How many indexes a Job's status.completedIndexes ("1,3-5") names."""
    count = 0
    for part in (text or "").split(","):
        first, dash, last = part.strip().partition("-")
        if first.isdigit() and (not dash or last.isdigit()):
            count += int(last) - int(first) + 1 if dash else 1
    return count


def shards_of_latest_run(runs: Sequence[Manifest]) -> tuple[int, int] | None:
    """(shards committed, shards) of the newest Indexed Job among ``runs``; None when the
    newest run is not sharded. Read from the Job's status: no storage is touched."""
    newest = max(
        runs,
        key=lambda run: (run["metadata"].get("creationTimestamp") or "", run["metadata"]["name"]),
        default=None,
    )
    if newest is None:
        return None
    spec, status = newest.get("spec") or {}, newest.get("status") or {}
    if spec.get("completionMode") != "Indexed":
        return None
    done = completed_indexes(status.get("completedIndexes"))
    return max(done, int(status.get("succeeded") or 0)), int(spec.get("completions") or 1)


def _latest_failure(runs: Sequence[Manifest]) -> Failure | None:
    failures = [failure for run in runs if (failure := failure_of(run)) is not None]
    return max(failures, key=lambda failure: failure.time, default=None)


def _recorded(previous: Sequence[BatchJobStatus], name: str) -> BatchJobStatus | None:
    return next((entry for entry in previous if entry.name == name), None)


def _is_new(failure: Failure, recorded: BatchJobStatus | None) -> bool:
    last = recorded.last_failure_time if recorded is not None else None
    return last is None or failure.time > last


def exits_wanted(
    md: ModelDeployment, previous: Sequence[BatchJobStatus], runs: Sequence[Manifest]
) -> list[str]:
    """Jobs whose pods to read: the newest failure of each batch job, when not yet recorded."""
    by_cron_job = runs_by_cron_job(runs)
    wanted = []
    for job in md.spec.batch:
        failure = _latest_failure(by_cron_job.get(batch_job_name(md, job), []))
        if failure is not None and _is_new(failure, _recorded(previous, job.name)):
            wanted.append(failure.job)
    return wanted


def batch_status(
    md: ModelDeployment,
    children: Sequence[Manifest],
    runs: Sequence[Manifest],
    previous: Sequence[BatchJobStatus],
    exits: Mapping[str, str],
) -> list[BatchJobStatus]:
    """Each batch job's last start and success (its CronJob's) and its last failure."""
    cron_jobs = {c["metadata"]["name"]: c for c in children if c["kind"] == "CronJob"}
    by_cron_job = runs_by_cron_job(runs)
    statuses = []
    for job in md.spec.batch:
        name = batch_job_name(md, job)
        live = (cron_jobs.get(name) or {}).get("status") or {}
        recorded = _recorded(previous, job.name)
        failure = _latest_failure(by_cron_job.get(name, []))
        failed_at: datetime | None = None
        why: str | None = None
        if failure is not None and _is_new(failure, recorded):
            detail = exits.get(failure.job)
            message = f"Job {failure.job}: {failure.message}" + (f"; {detail}" if detail else "")
            failed_at, why = failure.time, _shortened(message)
        elif recorded is not None:
            failed_at, why = recorded.last_failure_time, recorded.last_failure_message
        shards = shards_of_latest_run(by_cron_job.get(name, []))
        statuses.append(
            BatchJobStatus(
                name=job.name,
                last_schedule_time=live.get("lastScheduleTime"),
                last_successful_time=live.get("lastSuccessfulTime"),
                last_failure_time=failed_at,
                last_failure_message=why,
                shards=None if shards is None else shards[1],
                shards_done=None if shards is None else shards[0],
            )
        )
    return statuses


def failure_events(
    previous: Sequence[BatchJobStatus], current: Sequence[BatchJobStatus]
) -> list[Event]:
    """A Warning for each batch job whose recorded failure is new."""
    events = []
    for entry in current:
        recorded = _recorded(previous, entry.name)
        before = recorded.last_failure_time if recorded is not None else None
        if entry.last_failure_time is not None and entry.last_failure_time != before:
            message = f"Batch job {entry.name} failed: {entry.last_failure_message}"
            events.append(Event("Warning", reasons.BATCH_JOB_FAILED, message))
    return events


def _shortened(message: str) -> str:
    if len(message) <= MAX_MESSAGE_LENGTH:
        return message
    return message[: MAX_MESSAGE_LENGTH - 1] + "…"
