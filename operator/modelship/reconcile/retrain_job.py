"""Decide a RetrainJob's children (its CronJob, or the Job of its one run) and its status.

Runs are Jobs carrying the RetrainJob's label: the one-off Job it owns, or
those its CronJob starts. A Job's pod template cannot change once it runs, so
an owned Job is only ever patched on `spec.suspend`; a finished run-once Job
that was cleaned up is not started again. Validation and promotion of a
trained candidate come later; `status.promoted` is kept as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from modelship.api.common import Condition
from modelship.api.retrain_job import (
    TERMINATION_MESSAGE_PATH,
    RetrainJob,
    RetrainJobStatus,
    RunOutcome,
    RunRecord,
    TrainerResult,
)
from modelship.builders import build_retrain_job_children
from modelship.core.merge import status_patch, with_last_applied
from modelship.core.objects import Action, Create, Manifest, Patch, Refusal
from modelship.reconcile import reasons
from modelship.reconcile.children import diff_children
from modelship.reconcile.conditions import Verdict, merge_conditions
from modelship.reconcile.decision import Decision
from modelship.reconcile.history import bounded
from modelship.reconcile.parsing import lenient, problems, typed

FINISHED = (RunOutcome.SUCCEEDED, RunOutcome.FAILED, RunOutcome.REJECTED, RunOutcome.PROMOTED)


@dataclass(frozen=True)
class Observed:
    body: Manifest
    children: Sequence[Manifest]  # the CronJob or Job it controls
    runs: Sequence[Manifest]  # Jobs of its runs (its own, or started by its CronJob)
    now: datetime
    # The trainer's termination message, by run, for finished runs whose result is not known yet.
    results: Mapping[str, str] = field(default_factory=dict)
    refused: Refusal | None = None  # the child the API server refused to write just now


def decide(observed: Observed) -> Decision:
    body = observed.body
    generation = body["metadata"].get("generation")
    previous = lenient(RetrainJobStatus, body.get("status"))
    rtj = typed(RetrainJob, body)
    if isinstance(rtj, ValidationError):
        message = f"Invalid spec: {problems(rtj)}."
        verdicts = [
            Verdict.false(reasons.READY, reasons.INVALID_SPEC, message),
            Verdict.false(reasons.PROGRESSING, reasons.INVALID_SPEC, "Nothing runs until fixed."),
        ]
        return _decision(previous, generation, verdicts, (), previous, observed.now)
    if observed.refused is not None:
        verdicts = [
            Verdict.false(reasons.READY, reasons.CHILD_REJECTED, observed.refused.explanation),
            Verdict.false(
                reasons.PROGRESSING, reasons.CHILD_REJECTED, "Nothing runs until it is written."
            ),
        ]
        return _decision(previous, generation, verdicts, (), previous, observed.now)

    known = {run.name: run for run in previous.history if run.result is not None}
    records = sorted(
        (with_result(run_record(job), known, observed.results) for job in observed.runs),
        key=_newest_first,
    )
    last = records[0] if records else previous.last_run
    actions = tuple(_runnable(diff_children(_desired(rtj), observed.children), last))
    history = bounded(
        records or previous.history,
        max(rtj.spec.history_limit, 1),
    )
    status = previous.model_copy(update={"last_run": last, "history": history})
    return _decision(previous, generation, _verdicts(rtj, last), actions, status, observed.now)


def run_record(job: Manifest) -> RunRecord:
    """A run as its Job's status tells it."""
    status = job.get("status") or {}
    started = status.get("startTime") or job["metadata"].get("creationTimestamp")
    finished = status.get("completionTime")
    failed = next(
        (
            c
            for c in status.get("conditions", [])
            if c.get("type") == "Failed" and c.get("status") == "True"
        ),
        None,
    )
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
        }
    )


def results_wanted(body: Manifest, runs: Sequence[Manifest]) -> list[str]:
    """Succeeded runs whose result the status does not hold yet: their trainer pod has it."""
    previous = lenient(RetrainJobStatus, body.get("status"))
    known = {run.name for run in previous.history if run.result is not None}
    return sorted(
        record.name
        for record in map(run_record, runs)
        if record.outcome == RunOutcome.SUCCEEDED and record.name not in known
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


def _desired(rtj: RetrainJob) -> list[dict[str, Any]]:
    return [with_last_applied(child) for child in build_retrain_job_children(rtj)]


def _runnable(actions: Sequence[Action], last: RunRecord | None) -> list[Action]:
    """Leave a running Job's template alone, and do not rerun a finished run-once Job."""
    kept: list[Action] = []
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
        kept.append(action)
    return kept


def _verdicts(rtj: RetrainJob, last: RunRecord | None) -> list[Verdict]:
    if last is not None and last.outcome == RunOutcome.FAILED:
        ready = Verdict.false(
            reasons.READY,
            reasons.RUN_FAILED,
            f"Run {last.name} failed ({last.message}); see kubectl logs job/{last.name}.",
        )
    elif rtj.spec.suspend:
        ready = Verdict.true(reasons.READY, reasons.SUSPENDED, "Suspended: no run starts.")
    elif rtj.spec.schedule is not None:
        ready = Verdict.true(
            reasons.READY, reasons.SCHEDULED, f"Runs on the schedule {rtj.spec.schedule!r}."
        )
    elif last is not None and last.outcome == RunOutcome.SUCCEEDED:
        ready = Verdict.true(reasons.READY, reasons.RUN_SUCCEEDED, f"Run {last.name} succeeded.")
    else:
        ready = Verdict.true(reasons.READY, reasons.WAITING_FOR_RUN, "The run is set up.")
    if last is not None and last.outcome == RunOutcome.RUNNING:
        progressing = Verdict.true(
            reasons.PROGRESSING, reasons.RUN_ACTIVE, f"Run {last.name} is training."
        )
    else:
        progressing = Verdict.false(
            reasons.PROGRESSING, reasons.WAITING_FOR_RUN, "No run is active."
        )
    return [ready, progressing]


def _decision(
    previous: RetrainJobStatus,
    generation: int | None,
    verdicts: Sequence[Verdict],
    actions: tuple[Action, ...],
    status: RetrainJobStatus,
    now: datetime,
) -> Decision:
    conditions: list[Condition] = merge_conditions(previous.conditions, verdicts, generation, now)
    status = status.model_copy(update={"observed_generation": generation, "conditions": conditions})
    old, new = previous.to_wire(), status.to_wire()
    return Decision(actions, new, status_patch(old, new))


def _newest_first(record: RunRecord) -> tuple[float, str]:
    started = record.started_at.timestamp() if record.started_at else 0.0
    return (-started, record.name)
