"""What a RetrainJob reports: the trainer's result, each run, its validation, the drift checks
that started runs, and the status that holds them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from modelship.api.base import MESSAGE_MAX_LENGTH, URI_MAX_LENGTH, ApiModel, ModelUri, Sha256
from modelship.api.common import Condition, Lineage
from modelship.api.model_source import ModelVersion
from modelship.api.status import ObservedStatus, StatusMessage, command_field, conditions_field


class TrainerResult(ApiModel):
    """What a trainer reports, as JSON in its termination message."""

    version: ModelVersion = Field(
        description="Version of the candidate: what model.version would say."
    )
    uri: ModelUri = Field(
        description="Where the packaged candidate is: what model.uri would say.",
    )
    sha256: Sha256 | None = Field(default=None, description="Its digest.")
    metrics: dict[str, float] = Field(
        default_factory=dict, max_length=64, description="Validation metrics (at most 64)."
    )
    lineage: Lineage | None = Field(
        default=None,
        description=(
            "Where it came from: the trainer may report codeRef and parameters; the operator "
            "adds the data version and uri when it promotes the candidate."
        ),
    )


class RunOutcome(StrEnum):
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"  # trained; not judged yet
    VALIDATING = "Validating"  # its validation Job scores it against the champion
    AWAITING_APPROVAL = "AwaitingApproval"  # validated; promotion Manual waits for approve
    FAILED = "Failed"
    REJECTED = "Rejected"
    PROMOTED = "Promoted"
    ROLLED_BACK = "RolledBack"  # promoted, then a following ModelDeployment's canary rolled back


class ValidationVerdict(StrEnum):
    VALIDATED = "Validated"
    REJECTED = "Rejected"


class ValidationRecord(ApiModel):
    """How a candidate was judged against the champion."""

    metric: str = Field(max_length=253, description="The metric that decided.")
    candidate: float | None = Field(default=None, description="The candidate's score.")
    champion: float | None = Field(default=None, description="The champion's score.")
    champion_uri: str | None = Field(
        default=None, max_length=URI_MAX_LENGTH, description="The model it was compared with."
    )
    job: str | None = Field(
        default=None, max_length=63, description="The validation Job that scored both."
    )
    verdict: ValidationVerdict | None = Field(
        default=None, description="Validated or Rejected; absent while it is scored."
    )
    reason: str = Field(default="", max_length=128, description="The check that decided.")
    message: str = Field(default="", max_length=MESSAGE_MAX_LENGTH, description="Why.")
    metrics: dict[str, float | None] = Field(
        default_factory=dict, max_length=64, description="Every metric scored, candidate's."
    )


class RunRecord(ApiModel):
    """One training run."""

    name: str = Field(description="Name of the run's Job.")
    started_at: datetime | None = Field(default=None, description="When it started.")
    finished_at: datetime | None = Field(default=None, description="When it finished.")
    outcome: RunOutcome = Field(description="What became of it.")
    message: str = Field(default="", description="Why, in a sentence.")
    result: TrainerResult | None = Field(default=None, description="What the trainer reported.")
    trigger: str | None = Field(
        default=None, max_length=32, description="What started it: schedule, manual or drift."
    )
    validation: ValidationRecord | None = Field(
        default=None, description="How its candidate was judged against the champion."
    )


class TriggerRecord(ApiModel):
    """A drift check of the target deployment that started a run."""

    run: str = Field(max_length=63, description="The run it started.")
    at: datetime = Field(description="When the run was started.")
    checked_at: datetime | None = Field(
        default=None, description="The drift check (status.drift.checkedAt) it answered."
    )
    summary: str = Field(
        default="", max_length=4096, description="The drift summary the trainer was given."
    )


class DriftCheck(ApiModel):
    """What the operator made of the target deployment's latest drift check."""

    checked_at: datetime | None = Field(default=None, description="That check's checkedAt.")
    started: bool = Field(default=False, description="Whether it started a run.")
    message: StatusMessage = Field(default="", description="Why it did, or did not.")


class RunOnce(ApiModel):
    """The run a run-once RetrainJob trains, and the training inputs it was started with."""

    run: str = Field(max_length=63, description="The run's name suffix: run, or run-<hash>.")
    inputs: str = Field(
        max_length=64, description="Hash of template, data, output, backoffLimit and deadline."
    )


class RetrainJobStatus(ObservedStatus):
    """The observed state of retraining, written by the operator."""

    conditions: list[Condition] = conditions_field("Ready, Progressing, and more.")
    last_run: RunRecord | None = Field(default=None, description="The newest run.")
    promoted: TrainerResult | None = Field(
        default=None,
        description="The last promoted candidate: what model.fromRetrainJob serves.",
    )
    history: list[RunRecord] = Field(
        default_factory=list, description="Recent runs, newest first (bounded)."
    )
    last_trigger: TriggerRecord | None = Field(
        default=None, description="The last drift check that started a run."
    )
    run_once: RunOnce | None = Field(
        default=None,
        description=(
            "Without a schedule: the run its training inputs started; new inputs start a new one."
        ),
    )
    drift_check: DriftCheck | None = Field(
        default=None,
        description="The target's latest drift check as the drift trigger saw it (when on).",
    )
    command: str | None = command_field(
        "retrain.modelship.dev/command", "approve/nonce or reject/nonce", max_length=128
    )
