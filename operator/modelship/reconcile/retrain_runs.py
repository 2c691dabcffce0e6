"""A RetrainJob's runs as their Jobs tell them, and which of its Jobs to run, keep or leave.

Runs are Jobs carrying the RetrainJob's label: the one-off Job it owns, those its CronJob
starts, and those the target deployment's drift starts. A Job's pod template cannot change
once it runs, so an owned Job is only ever patched on `spec.suspend`; a finished run-once
Job that was cleaned up is not started again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

from pydantic import ValidationError

from modelship.api.retrain_job import (
    TERMINATION_MESSAGE_PATH,
    RetrainJob,
    RetrainJobStatus,
    RunOnce,
    RunOutcome,
    RunRecord,
    TrainerResult,
)
from modelship.core.names import TRIGGER, VALIDATES
from modelship.core.objects import Action, Create, Delete, Manifest, Patch, true_condition
from modelship.reconcile.parsing import lenient, problems

FINISHED = (
    RunOutcome.SUCCEEDED,
    RunOutcome.FAILED,
    RunOutcome.REJECTED,
    RunOutcome.PROMOTED,
    RunOutcome.AWAITING_APPROVAL,
    RunOutcome.ROLLED_BACK,
)
# What the operator decided about a run after its trainer finished: kept from the status.
JUDGED = (
    RunOutcome.VALIDATING,
    RunOutcome.AWAITING_APPROVAL,
    RunOutcome.REJECTED,
    RunOutcome.PROMOTED,
    RunOutcome.ROLLED_BACK,
)
IN_FLIGHT = (RunOutcome.RUNNING, RunOutcome.VALIDATING)


def gone(history: Sequence[RunRecord], live: set[str]) -> list[RunRecord]:
    """Runs of the history whose Job was cleaned up: what the status says of them stands
    (a waiting candidate can still be approved); one that was training never will finish."""
    gone = []
    for record in history:
        if record.name in live:
            continue
        if record.outcome == RunOutcome.RUNNING:
            message = "Its Job was deleted before it finished."
            record = record.model_copy(update={"outcome": RunOutcome.FAILED, "message": message})
        gone.append(record)
    return gone


def validates(job: Manifest) -> bool:
    return VALIDATES in (job["metadata"].get("labels") or {})


def run_record(job: Manifest) -> RunRecord:
    """A run as its Job's status tells it."""
    status = job.get("status") or {}
    started = status.get("startTime") or job["metadata"].get("creationTimestamp")
    finished = status.get("completionTime")
    failed = true_condition(job, "Failed")
    if failed is not None:
        outcome = RunOutcome.FAILED
        message = f"{failed.get('reason', 'Failed')}: {failed.get('message', '')}".rstrip(": ")
        finished = failed.get("lastTransitionTime") or finished
    elif status.get("succeeded"):
        outcome, message = RunOutcome.SUCCEEDED, "The trainer finished."
    else:
        outcome, message = RunOutcome.RUNNING, "The trainer is running."
    return RunRecord.model_validate(
        {
            "name": job["metadata"]["name"],
            "startedAt": started,
            "finishedAt": finished,
            "outcome": outcome,
            "message": message,
            "trigger": (job["metadata"].get("labels") or {}).get(TRIGGER),
        }
    )


def results_wanted(body: Manifest, runs: Sequence[Manifest]) -> list[str]:
    """Succeeded runs whose result the status does not hold yet: their trainer pod has it."""
    previous = lenient(RetrainJobStatus, body.get("status"))
    known = {run.name for run in previous.history if run.result is not None}
    return sorted(
        record.name
        for record in map(run_record, (job for job in runs if not validates(job)))
        if record.outcome == RunOutcome.SUCCEEDED and record.name not in known
    )


def reports_wanted(body: Manifest, runs: Sequence[Manifest]) -> list[str]:
    """Succeeded validation Jobs of runs still validating: their evaluate pod has the scores."""
    previous = lenient(RetrainJobStatus, body.get("status"))
    validating = {
        run.validation.job
        for run in previous.history
        if run.outcome == RunOutcome.VALIDATING and run.validation is not None
    }
    return sorted(
        record.name
        for record in map(run_record, (job for job in runs if validates(job)))
        if record.outcome == RunOutcome.SUCCEEDED and record.name in validating
    )


def with_result(
    record: RunRecord, known: Mapping[str, RunRecord], messages: Mapping[str, str]
) -> RunRecord:
    """The run with what its trainer reported, read once and then kept in the status."""
    if record.outcome != RunOutcome.SUCCEEDED:
        return record
    if (before := known.get(record.name)) is not None:
        return record.model_copy(update={"result": before.result, "message": before.message})
    if record.name not in messages:
        return record
    try:
        result = TrainerResult.model_validate_json(messages[record.name])
    except ValidationError as error:
        message = (
            f"The trainer finished, but its termination message is not a valid result "
            f"({problems(error)}); it must write JSON with version and uri to "
            f"{TERMINATION_MESSAGE_PATH}."
        )
        return record.model_copy(update={"outcome": RunOutcome.FAILED, "message": message})
    message = f"The trainer reported version {result.version} at {result.uri}."
    return record.model_copy(update={"result": result, "message": message})


def training_inputs(rtj: RetrainJob) -> str:
    """What a run trains from: a change here is a different training, worth a new run."""
    spec = rtj.spec
    inputs = {
        "template": spec.template.to_wire(),
        "data": spec.data.to_wire(),
        "output": spec.output.to_wire(),
        "backoffLimit": spec.backoff_limit,
        "activeDeadlineSeconds": spec.active_deadline_seconds,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


def run_once_wanted(
    rtj: RetrainJob, before: RunOnce | None, last: RunRecord | None
) -> RunOnce | None:
    """The run a run-once RetrainJob wants: `run` first; after its training inputs change,
    `run-<hash>` once no run is in flight. Other changes (validation, promotion) retrain
    nothing."""
    if rtj.spec.schedule is not None:
        return before
    inputs = training_inputs(rtj)
    if before is None:
        return RunOnce(run="run", inputs=inputs)
    if before.inputs == inputs or (last is not None and last.outcome in IN_FLIGHT):
        return before
    return RunOnce(run=f"run-{inputs[:8]}", inputs=inputs)


def runnable(actions: Sequence[Action], last: RunRecord | None, kept: set[str]) -> list[Action]:
    """Leave a running Job's template alone, do not rerun a finished run-once Job, and keep
    the Jobs of drift-triggered runs and validations while their run is in the history."""
    runnable: list[Action] = []
    for action in actions:
        if isinstance(action, Patch) and action.ref.kind == "Job":
            suspend = action.patch.get("spec", {}).get("suspend")
            if suspend is None:
                continue
            action = Patch(action.ref, {"spec": {"suspend": suspend}})
        if (
            isinstance(action, Create)
            and action.ref.kind == "Job"
            and last is not None
            and last.name == action.ref.name
            and last.outcome in FINISHED
        ):
            continue
        if isinstance(action, Delete) and action.ref.kind == "Job" and action.ref.name in kept:
            continue
        runnable.append(action)
    return runnable


def kept_jobs(children: Sequence[Manifest], runs: set[str]) -> set[str]:
    """Its Jobs no longer desired (earlier run-once runs, drift runs, validations) whose
    run the history still holds: kept for inspection, as `historyLimit` says."""
    kept = set()
    for child in children:
        name = child["metadata"]["name"]
        run = (child["metadata"].get("labels") or {}).get(VALIDATES) or name
        if child.get("kind") == "Job" and run in runs:
            kept.add(name)
    return kept


def newest_first(record: RunRecord) -> tuple[float, str]:
    started = record.started_at.timestamp() if record.started_at else 0.0
    return (-started, record.name)
