"""Decide a RetrainJob's children (its CronJob, or the Job of its one run) and its status.

Its runs are read from their Jobs (`retrain_runs`), judged and promoted (`promotion`), and
started by drift (`retrain_triggers`); this module puts those together with the conditions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from modelship.api.common import Condition
from modelship.api.retrain_job import (
    DriftCheck,
    RetrainJob,
    RetrainJobStatus,
    RunOutcome,
    RunRecord,
    TriggerRecord,
)
from modelship.builders import build_retrain_job_children
from modelship.builders.retrain import DRIFT, build_retrain_run_job
from modelship.core.merge import status_patch, with_last_applied
from modelship.core.objects import Action, Create, Event, Manifest, Refusal
from modelship.reconcile import reasons
from modelship.reconcile.children import diff_children
from modelship.reconcile.conditions import Verdict, merge_conditions
from modelship.reconcile.decision import Decision
from modelship.reconcile.history import bounded
from modelship.reconcile.parsing import lenient, problems, typed
from modelship.reconcile.promotion import Judging
from modelship.reconcile.retrain_runs import (
    IN_FLIGHT,
    gone,
    kept_jobs,
    newest_first,
    run_once_wanted,
    run_record,
    runnable,
    validates,
    with_result,
)
from modelship.reconcile.retrain_triggers import decide_drift_run, run_suffix


@dataclass(frozen=True)
class Observed:
    body: Manifest
    children: Sequence[Manifest]  # the CronJob or Job it controls, its validation and drift Jobs
    runs: Sequence[Manifest]  # Jobs with its label: trainer runs and validation Jobs
    now: datetime
    # The trainer's termination message, by run, for finished runs whose result is not known yet.
    results: Mapping[str, str] = field(default_factory=dict)
    # modelship evaluate's termination message, by validation Job, for those that succeeded.
    reports: Mapping[str, str] = field(default_factory=dict)
    target: Manifest | None = None  # the ModelDeployment it retrains
    followers: Sequence[Manifest] = ()  # ModelDeployments whose model.fromRetrainJob names it
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

    trainer_runs = [job for job in observed.runs if not validates(job)]
    known = {run.name: run for run in previous.history if run.result is not None}
    live = [with_result(run_record(job), known, observed.results) for job in trainer_runs]
    records = sorted(live + gone(previous.history, {r.name for r in live}), key=newest_first)
    judging = Judging(
        rtj, previous, observed.runs, observed.reports, observed.target, observed.followers
    )
    records = judging.advance(records)
    last = records[0] if records else previous.last_run
    history = bounded(records, max(rtj.spec.history_limit, 1))

    trigger = decide_drift_run(
        rtj,
        observed.target,
        previous.last_trigger,
        any(r.outcome in IN_FLIGHT for r in records),
        observed.now,
    )
    run_once = run_once_wanted(rtj, previous.run_once, last)
    run_name = run_once.run if run_once is not None else "run"
    desired = _desired(rtj, run_name) + judging.validation_jobs
    kept = kept_jobs(observed.children, {r.name for r in history})
    actions = runnable(diff_children(desired, observed.children), last, kept)
    last_trigger, events = previous.last_trigger, list(judging.events)
    drift_check = previous.drift_check
    if trigger.checked_at is not None:
        drift_check = DriftCheck(
            checked_at=trigger.checked_at, started=trigger.start, message=trigger.why
        )
    if trigger.start:
        run = build_retrain_run_job(
            rtj, run_suffix(trigger.checked_at, observed.now), DRIFT, trigger.summary
        )
        actions.append(Create(with_last_applied(run)))
        name = run["metadata"]["name"]
        last_trigger = TriggerRecord(
            run=name, at=observed.now, checked_at=trigger.checked_at, summary=trigger.summary
        )
        events.append(Event("Normal", reasons.DRIFT_TRIGGERED, f"{trigger.why} Started {name}."))
    status = previous.model_copy(
        update={
            "last_run": last,
            "history": history,
            "promoted": judging.promoted,
            "command": judging.command,
            "last_trigger": last_trigger,
            "drift_check": drift_check,
            "run_once": run_once,
        }
    )
    decision = _decision(
        previous, generation, _verdicts(rtj, last), tuple(actions), status, observed.now
    )
    return Decision(
        decision.actions,
        decision.status,
        decision.status_patch,
        events=tuple(events),
        wake_at=trigger.wake_at,
    )


def _desired(rtj: RetrainJob, run: str) -> list[dict[str, Any]]:
    return [with_last_applied(child) for child in build_retrain_job_children(rtj, run)]


def _verdicts(rtj: RetrainJob, last: RunRecord | None) -> list[Verdict]:
    name = rtj.metadata.name
    outcome = last.outcome if last is not None else None
    if last is not None and outcome == RunOutcome.FAILED:
        ready = Verdict.false(
            reasons.READY,
            reasons.RUN_FAILED,
            f"Run {last.name} failed ({last.message}); see kubectl logs job/{last.name}.",
        )
    elif last is not None and outcome == RunOutcome.ROLLED_BACK:
        ready = Verdict.false(
            reasons.READY, reasons.ROLLED_BACK, f"Run {last.name}: {last.message}."
        )
    elif last is not None and outcome == RunOutcome.AWAITING_APPROVAL:
        version = last.result.version if last.result is not None else "?"
        ready = Verdict.true(
            reasons.READY,
            reasons.AWAITING_APPROVAL,
            f"Run {last.name} (version {version}) is validated; kubectl modelship approve "
            f"rtj/{name} promotes it, kubectl modelship reject rtj/{name} drops it.",
        )
    elif last is not None and outcome in (RunOutcome.REJECTED, RunOutcome.PROMOTED):
        reason = (
            reasons.CANDIDATE_REJECTED
            if outcome == RunOutcome.REJECTED
            else reasons.CANDIDATE_PROMOTED
        )
        ready = Verdict.true(reasons.READY, reason, f"Run {last.name}: {last.message}")
    elif rtj.spec.suspend:
        ready = Verdict.true(reasons.READY, reasons.SUSPENDED, "Suspended: no run starts.")
    elif rtj.spec.schedule is not None:
        ready = Verdict.true(
            reasons.READY, reasons.SCHEDULED, f"Runs on the schedule {rtj.spec.schedule!r}."
        )
    elif last is not None and outcome == RunOutcome.SUCCEEDED:
        ready = Verdict.true(reasons.READY, reasons.RUN_SUCCEEDED, f"Run {last.name} succeeded.")
    else:
        ready = Verdict.true(reasons.READY, reasons.WAITING_FOR_RUN, "The run is set up.")
    if last is not None and outcome == RunOutcome.RUNNING:
        progressing = Verdict.true(
            reasons.PROGRESSING, reasons.RUN_ACTIVE, f"Run {last.name} is training."
        )
    elif last is not None and outcome == RunOutcome.VALIDATING:
        progressing = Verdict.true(reasons.PROGRESSING, reasons.VALIDATING, last.message)
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
