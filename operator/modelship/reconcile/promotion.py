"""Judge a RetrainJob's trained runs and promote the winners (see `validation`).

A run whose trainer succeeded is judged by a validation Job that scores it and the champion
on `validation.data`, or by the metric the trainer reported. Rejected: it stays in the
history, never promoted. Validated: `promotion: Automatic` sets `status.promoted` at once,
`Manual` waits for `kubectl modelship approve`. A promoted version that a following
ModelDeployment's canary rolled back is reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, Final

from modelship.api.common import Lineage
from modelship.api.model_deployment import ModelDeployment
from modelship.api.model_deployment_status import ModelDeploymentStatus, RevisionOutcome
from modelship.api.retrain_job import (
    PromotionPolicy,
    RetrainJob,
    RetrainJobStatus,
    RunOutcome,
    RunRecord,
    TrainerResult,
    ValidationRecord,
    ValidationVerdict,
)
from modelship.builders.validation import build_validation_job, validation_job_name
from modelship.core.merge import with_last_applied
from modelship.core.objects import Event, Manifest
from modelship.reconcile import reasons
from modelship.reconcile.parsing import lenient, typed
from modelship.reconcile.retrain_runs import JUDGED, run_record, validates
from modelship.reconcile.rollout.commands import new_annotated
from modelship.reconcile.validation import Scores, judge, report_scores, trainer_scores

METRICS_MAX = 64  # as TrainerResult.metrics allows

# `kubectl modelship approve|reject rtj/NAME` writes `<action>/<nonce>` here (see
# rollout/commands.py for why an annotation, and why not under modelship.dev/).
RETRAIN_ANNOTATION: Final = "retrain.modelship.dev/command"


class Approval(StrEnum):
    APPROVE = "approve"  # promote the validated candidate waiting for approval
    REJECT = "reject"  # reject it: it is never promoted


class Judging:
    """Takes each trained run on from where the status left it: validate, judge, promote."""

    def __init__(
        self,
        rtj: RetrainJob,
        previous: RetrainJobStatus,
        runs: Sequence[Manifest],
        reports: Mapping[str, str],
        target: Manifest | None,
        followers: Sequence[Manifest],
    ) -> None:
        self.rtj = rtj
        self.reports = reports
        self.promoted = previous.promoted
        self.command = previous.command
        self.events: list[Event] = []
        self.validation_jobs: list[dict[str, Any]] = []
        self.jobs = {job["metadata"]["name"]: job for job in runs if validates(job)}
        self.previous = {run.name: run for run in previous.history}
        if previous.last_run is not None:
            self.previous.setdefault(previous.last_run.name, previous.last_run)
        self.rolled_back = rolled_back_versions(followers)
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
        if ended.outcome != RunOutcome.SUCCEEDED or name not in self.reports:
            return record
        scores = report_scores(self.rtj.spec.validation, self.reports[name])
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


def rolled_back_versions(followers: Sequence[Manifest]) -> dict[str, str]:
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
