"""Decide a RetrainJob's children (its CronJob, or the Job of its one run) and its status.

Runs are Jobs carrying the RetrainJob's label: the one-off Job it owns, those its
CronJob starts, and those the target deployment's drift starts (see
`retrain_triggers`). A Job's pod template cannot change once it runs, so an owned Job
is only ever patched on `spec.suspend`; a finished run-once Job that was cleaned up is
not started again.

A run whose trainer succeeded is judged (see `validation`): by a validation Job that
scores it and the champion on `validation.data`, or by the metric the trainer reported.
Rejected: it stays in the history, never promoted. Validated: `promotion: Automatic`
sets `status.promoted` at once, `Manual` waits for `kubectl modelship approve`. A
promoted version that a following ModelDeployment's canary rolled back is reported.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from pydantic import ValidationError

from modelship.api.common import Condition, Lineage
from modelship.api.model_deployment import ModelDeployment
from modelship.api.model_deployment_status import ModelDeploymentStatus, RevisionOutcome
from modelship.api.retrain_job import (
    TERMINATION_MESSAGE_PATH,
    DriftCheck,
    PromotionPolicy,
    RetrainJob,
    RetrainJobStatus,
    RunOnce,
    RunOutcome,
    RunRecord,
    TrainerResult,
    TriggerRecord,
    ValidationRecord,
    ValidationVerdict,
)
from modelship.builders import build_retrain_job_children
from modelship.builders.retrain import DRIFT, build_retrain_run_job
from modelship.builders.validation import build_validation_job, validation_job_name
from modelship.core.merge import status_patch, with_last_applied
from modelship.core.names import TRIGGER, VALIDATES
from modelship.core.objects import Action, Create, Delete, Event, Manifest, Patch, Refusal
from modelship.reconcile import reasons
from modelship.reconcile.children import diff_children
from modelship.reconcile.conditions import Verdict, merge_conditions
from modelship.reconcile.decision import Decision
from modelship.reconcile.history import bounded
from modelship.reconcile.parsing import lenient, problems, typed
from modelship.reconcile.retrain_triggers import decide_drift_run, run_suffix
from modelship.reconcile.rollout.commands import new_annotated
from modelship.reconcile.validation import Scores, judge, report_scores, trainer_scores

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
METRICS_MAX = 64  # as TrainerResult.metrics allows

# `kubectl modelship approve|reject rtj/NAME` writes `<action>/<nonce>` here (see
# rollout/commands.py for why an annotation, and why not under modelship.dev/).
RETRAIN_ANNOTATION: Final = "retrain.modelship.dev/command"


class Approval(StrEnum):
    APPROVE = "approve"  # promote the validated candidate waiting for approval
    REJECT = "reject"  # reject it: it is never promoted


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

    trainer_runs = [job for job in observed.runs if not _validates(job)]
    known = {run.name: run for run in previous.history if run.result is not None}
    live = [with_result(run_record(job), known, observed.results) for job in trainer_runs]
    records = sorted(live + _gone(previous.history, {r.name for r in live}), key=_newest_first)
    judging = _Judging(rtj, observed, previous)
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
    run_once = _run_once(rtj, previous.run_once, last)
    run_name = run_once.run if run_once is not None else "run"
    desired = _desired(rtj, run_name) + judging.validation_jobs
    kept = _kept_jobs(observed.children, {r.name for r in history})
    actions = _runnable(diff_children(desired, observed.children), last, kept)
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


class _Judging:
    """Takes each trained run on from where the status left it: validate, judge, promote."""

    def __init__(self, rtj: RetrainJob, observed: Observed, previous: RetrainJobStatus) -> None:
        self.rtj = rtj
        self.observed = observed
        self.promoted = previous.promoted
        self.command = previous.command
        self.events: list[Event] = []
        self.validation_jobs: list[dict[str, Any]] = []
        self.jobs = {job["metadata"]["name"]: job for job in observed.runs if _validates(job)}
        self.previous = {run.name: run for run in previous.history}
        if previous.last_run is not None:
            self.previous.setdefault(previous.last_run.name, previous.last_run)
        self.rolled_back = _rolled_back(observed.followers)
        target = observed.target
        md = typed(ModelDeployment, target) if target is not None else None
        self.target = md if isinstance(md, ModelDeployment) else None
        self.target_status = lenient(ModelDeploymentStatus, (target or {}).get("status"))

    def advance(self, records: list[RunRecord]) -> list[RunRecord]:
        """Oldest first, so that the newest promotion is the one that stays."""
        command = new_annotated(
            self.rtj.metadata.annotations, RETRAIN_ANNOTATION, Approval, self.command
        )
        records = [self._carried(record) for record in records]
        waiting = next((r.name for r in records if r.outcome == RunOutcome.AWAITING_APPROVAL), None)
        advanced = []
        for record in reversed(records):
            if command is not None and record.name == waiting:
                record = self._answered(record, command[0])
            advanced.append(self._step(record))
        if command is not None:
            self.command = command[1]  # used up, acted on or not
        return advanced[::-1]

    def _carried(self, record: RunRecord) -> RunRecord:
        before = self.previous.get(record.name)
        if before is None or record.outcome != RunOutcome.SUCCEEDED:
            return record
        if before.outcome in JUDGED or (
            before.outcome == RunOutcome.FAILED and before.validation is not None
        ):
            update = {"outcome": before.outcome, "message": before.message}
            return record.model_copy(update=update | {"validation": before.validation})
        return record

    def _step(self, record: RunRecord) -> RunRecord:
        result = record.result
        if result is None:
            return record
        if record.outcome == RunOutcome.SUCCEEDED:
            return self._validate(record, result)
        if record.outcome == RunOutcome.VALIDATING:
            return self._scored(record, result)
        if record.outcome == RunOutcome.PROMOTED and result.version in self.rolled_back:
            message = self.rolled_back[result.version]
            self.events.append(Event("Warning", reasons.ROLLED_BACK, message))
            return record.model_copy(update={"outcome": RunOutcome.ROLLED_BACK, "message": message})
        return record

    def _validate(self, record: RunRecord, result: TrainerResult) -> RunRecord:
        spec = self.rtj.spec.validation
        champion = self._champion()
        if spec.data is None:
            return self._judged(record, result, trainer_scores(spec, result, champion[1]), None)
        if self.target is None:
            message = (
                f"Waiting for ModelDeployment {self.rtj.spec.model_deployment}: its serving "
                "image scores the candidate."
            )
            return record.model_copy(update={"message": message})
        job = validation_job_name(record.name)
        validation = ValidationRecord(metric=spec.metric, champion_uri=champion[0], job=job)
        record = record.model_copy(
            update={
                "outcome": RunOutcome.VALIDATING,
                "message": f"Validation Job {job} scores the candidate against the champion.",
                "validation": validation,
            }
        )
        return self._scored(record, result)

    def _scored(self, record: RunRecord, result: TrainerResult) -> RunRecord:
        """A validating run: its Job is wanted until it reports; then the verdict."""
        validation = record.validation or ValidationRecord(metric=self.rtj.spec.validation.metric)
        name = validation.job or validation_job_name(record.name)
        if self.target is not None:
            self.validation_jobs.append(
                with_last_applied(
                    build_validation_job(
                        self.rtj, self.target, record.name, result.uri, validation.champion_uri
                    )
                )
            )
        live = self.jobs.get(name)
        if live is None:
            return record
        ended = run_record(live)
        if ended.outcome == RunOutcome.FAILED:
            message = (
                f"Validation Job {name} failed ({ended.message}); see kubectl logs job/{name}."
            )
            return record.model_copy(update={"outcome": RunOutcome.FAILED, "message": message})
        if ended.outcome != RunOutcome.SUCCEEDED or name not in self.observed.reports:
            return record
        scores = report_scores(self.rtj.spec.validation, self.observed.reports[name])
        if isinstance(scores, str):
            message = f"Validation Job {name} finished, but {scores}."
            return record.model_copy(update={"outcome": RunOutcome.FAILED, "message": message})
        if scores.champion_uri is None and validation.champion_uri is not None:
            scores = Scores(
                scores.candidate, None, validation.champion_uri, scores.candidate_metrics
            )
        return self._judged(record, result, scores, name)

    def _judged(
        self, record: RunRecord, result: TrainerResult, scores: Scores, job: str | None
    ) -> RunRecord:
        validation = judge(self.rtj.spec.validation, scores, job)
        record = record.model_copy(update={"validation": validation})
        name = f"RetrainJob {self.rtj.metadata.name}, run {record.name} (version {result.version})"
        if validation.verdict == ValidationVerdict.REJECTED:
            message = f"Rejected: {validation.message}"
            self.events.append(Event("Warning", reasons.CANDIDATE_REJECTED, f"{name}: {message}"))
            return record.model_copy(update={"outcome": RunOutcome.REJECTED, "message": message})
        if self.rtj.spec.promotion == PromotionPolicy.AUTOMATIC:
            return self._promote(record, result, f"Validated and promoted: {validation.message}")
        message = (
            f"Validated: {validation.message} Waiting for approval: kubectl modelship approve "
            f"rtj/{self.rtj.metadata.name} (or reject)."
        )
        self.events.append(Event("Normal", reasons.AWAITING_APPROVAL, f"{name}: {message}"))
        return record.model_copy(
            update={"outcome": RunOutcome.AWAITING_APPROVAL, "message": message}
        )

    def _answered(self, record: RunRecord, action: Approval) -> RunRecord:
        if record.result is None:
            return record
        if action == Approval.APPROVE:
            return self._promote(record, record.result, "Approved and promoted.")
        message = "Rejected by a person (kubectl modelship reject)."
        self.events.append(Event("Normal", reasons.CANDIDATE_REJECTED, f"{record.name}: {message}"))
        return record.model_copy(update={"outcome": RunOutcome.REJECTED, "message": message})

    def _promote(self, record: RunRecord, result: TrainerResult, message: str) -> RunRecord:
        self.promoted = promoted_result(self.rtj, result, record.validation)
        self.events.append(
            Event(
                "Normal",
                reasons.CANDIDATE_PROMOTED,
                f"Run {record.name} promoted version {result.version} ({result.uri}).",
            )
        )
        # The run's record carries the same lineage and scores as status.promoted.
        update = {"outcome": RunOutcome.PROMOTED, "message": message, "result": self.promoted}
        return record.model_copy(update=update)

    def _champion(self) -> tuple[str | None, TrainerResult | None]:
        """(uri, its recorded result) of the model to beat: the last promoted one, unless a
        follower rolled it back, else what the target deployment serves."""
        promoted = self.promoted
        if promoted is not None and promoted.version not in self.rolled_back:
            return promoted.uri, promoted
        stable = self.target_status.stable
        return (stable.uri if stable is not None else None), None


def promoted_result(
    rtj: RetrainJob, result: TrainerResult, validation: ValidationRecord | None
) -> TrainerResult:
    """What `status.promoted` records: the result, its lineage, and the validation's scores."""
    # The API's uri pattern admits no user:password@ and no query, so no secret rides along.
    reported = result.lineage or Lineage()
    data = rtj.spec.data
    lineage = reported.model_copy(update={"data_version": data.version, "data_uri": data.uri})
    scored = {k: v for k, v in (validation.metrics if validation else {}).items() if v is not None}
    # The validation's scores first; the trainer's own fill the rest of the 64 allowed.
    metrics = scored | {k: v for k, v in result.metrics.items() if k not in scored}
    metrics = dict(list(metrics.items())[:METRICS_MAX])
    return result.model_copy(update={"lineage": lineage, "metrics": metrics})


def _rolled_back(followers: Sequence[Manifest]) -> dict[str, str]:
    """{model version: why} for versions a following ModelDeployment's canary rolled back."""
    found: dict[str, str] = {}
    for body in followers:
        status = lenient(ModelDeploymentStatus, body.get("status"))
        for entry in status.history:
            if entry.outcome == RevisionOutcome.ROLLED_BACK:
                why = f": {entry.message}" if entry.message else ""
                found.setdefault(
                    entry.version,
                    f"ModelDeployment {body['metadata']['name']} rolled back version "
                    f"{entry.version}{why}",
                )
    return found


def _gone(history: Sequence[RunRecord], live: set[str]) -> list[RunRecord]:
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


def _validates(job: Manifest) -> bool:
    return VALIDATES in (job["metadata"].get("labels") or {})


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
            "trigger": (job["metadata"].get("labels") or {}).get(TRIGGER),
        }
    )


def results_wanted(body: Manifest, runs: Sequence[Manifest]) -> list[str]:
    """Succeeded runs whose result the status does not hold yet: their trainer pod has it."""
    previous = lenient(RetrainJobStatus, body.get("status"))
    known = {run.name for run in previous.history if run.result is not None}
    return sorted(
        record.name
        for record in map(run_record, (job for job in runs if not _validates(job)))
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
        for record in map(run_record, (job for job in runs if _validates(job)))
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


def _desired(rtj: RetrainJob, run: str) -> list[dict[str, Any]]:
    return [with_last_applied(child) for child in build_retrain_job_children(rtj, run)]


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


def _run_once(rtj: RetrainJob, before: RunOnce | None, last: RunRecord | None) -> RunOnce | None:
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


def _runnable(actions: Sequence[Action], last: RunRecord | None, kept: set[str]) -> list[Action]:
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


def _kept_jobs(children: Sequence[Manifest], runs: set[str]) -> set[str]:
    """Its Jobs no longer desired (earlier run-once runs, drift runs, validations) whose
    run the history still holds: kept for inspection, as `historyLimit` says."""
    kept = set()
    for child in children:
        name = child["metadata"]["name"]
        run = (child["metadata"].get("labels") or {}).get(VALIDATES) or name
        if child.get("kind") == "Job" and run in runs:
            kept.add(name)
    return kept


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


def _newest_first(record: RunRecord) -> tuple[float, str]:
    started = record.started_at.timestamp() if record.started_at else 0.0
    return (-started, record.name)
