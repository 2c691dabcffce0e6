"""The observed state of a ModelDeployment, written by the operator: its live revisions,
endpoints, revision history, batch jobs' last runs and the drift of its inputs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from modelship.api.base import ApiModel, list_map
from modelship.api.common import Condition, Lineage
from modelship.api.status import (
    ObservedStatus,
    StatusMessage,
    command_field,
    conditions_field,
)


# What the status reports of a canary measurement, the prediction gate and a past revision.
class AnalysisOutcome(StrEnum):
    PASSED = "Passed"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"


class GatePhase(StrEnum):
    RUNNING = "Running"
    PASSED = "Passed"
    FAILED = "Failed"


class RevisionOutcome(StrEnum):
    SERVING = "Serving"
    SUPERSEDED = "Superseded"
    ROLLED_BACK = "RolledBack"
    FAILED = "Failed"


class RevisionStatus(ApiModel):
    """One live revision of the model."""

    name: str = Field(description="Revision name; also the name of its Deployment.")
    version: str = Field(description="Model version it serves.")
    uri: str = Field(description="Model repository it serves.")
    sha256: str | None = Field(default=None, description="Digest of the model.")
    replicas: int = Field(default=0, description="Pods wanted.")
    ready_replicas: int = Field(default=0, description="Pods ready to serve.")


class AnalysisResult(ApiModel):
    """One measurement of the canary against the stable revision over the same window."""

    at: datetime = Field(description="When the window closed.")
    step: int = Field(description="Index of the canary step it was taken in.")
    outcome: AnalysisOutcome = Field(description="Passed, Failed or Inconclusive.")
    message: str = Field(description="The measurements compared, and the one that failed.")


class RequestCounters(ApiModel):
    """Triton's cumulative counters of one revision, summed over its pods."""

    success: float = Field(default=0, description="nv_inference_request_success.")
    failure: float = Field(default=0, description="nv_inference_request_failure.")
    request_duration_us: float = Field(
        default=0, description="nv_inference_request_duration_us (microseconds)."
    )
    queue_duration_us: float = Field(
        default=0, description="nv_inference_queue_duration_us (microseconds)."
    )


class AnalysisWindow(ApiModel):
    """Where the current measurement window started: the counters then, of both revisions."""

    started_at: datetime = Field(description="When the window opened.")
    stable: RequestCounters = Field(description="The stable revision's counters then.")
    canary: RequestCounters = Field(description="The canary revision's counters then.")


class PredictionGateStatus(ApiModel):
    """The comparison of the canary's predictions with stable's before its first step."""

    phase: GatePhase = Field(description="Running, Passed or Failed.")
    job: str = Field(max_length=63, description="The Job that compares them.")
    started_at: datetime = Field(description="When the comparison was asked for.")
    message: StatusMessage | None = Field(
        default=None,
        description="What it measured (label agreement, or difference and shift), or why not.",
    )


class CanaryStatus(RevisionStatus):
    """The revision being rolled out."""

    weight: int = Field(default=0, description="Percent of traffic it receives now.")
    step: int = Field(
        default=0,
        description="Index of the current canary step; the number of steps while promoting.",
    )
    step_started_at: datetime | None = Field(
        default=None, description="When the current step's weight first reached a ready pod."
    )
    failed_analyses: int = Field(
        default=0, description="Measurements failed on the failure rate so far."
    )
    failed_latency_analyses: int = Field(
        default=0, description="Measurements failed on latency or queue time alone so far."
    )
    paused: bool = Field(
        default=False,
        description="Held at its step by a person's pause command until resumed or promoted.",
    )
    window: AnalysisWindow | None = Field(
        default=None, description="The measurement window in progress."
    )
    analyses: list[AnalysisResult] = Field(
        default_factory=list,
        max_length=10,
        description="The latest measurements, newest first (at most 10).",
    )
    prediction_gate: PredictionGateStatus | None = Field(
        default=None, description="The prediction gate, where the spec asks for one."
    )


class Endpoints(ApiModel):
    """Addresses clients use; they stay the same across revisions."""

    http: str = Field(description="KServe v2 HTTP endpoint of the stable Service.")
    grpc: str = Field(description="KServe v2 gRPC endpoint of the stable Service.")


class HistoryEntry(ApiModel):
    """A revision that served, or tried to."""

    revision: str = Field(description="Revision name.")
    version: str = Field(description="Model version.")
    uri: str = Field(description="Model repository.")
    sha256: str | None = Field(default=None, description="Digest of the model.")
    lineage: Lineage | None = Field(default=None, description="Data, code and parameters.")
    deployed_at: datetime = Field(description="When the revision was first created.")
    outcome: RevisionOutcome = Field(description="What became of it.")
    message: str | None = Field(default=None, description="Why it ended, when it was rolled back.")


class BatchJobStatus(ApiModel):
    """The last runs of one batch job."""

    name: str = Field(description="Batch job name.")
    last_schedule_time: datetime | None = Field(default=None, description="Last start.")
    last_successful_time: datetime | None = Field(default=None, description="Last success.")
    last_failure_time: datetime | None = Field(default=None, description="Last failure.")
    last_failure_message: str | None = Field(default=None, description="Why it last failed.")
    shards: int | None = Field(
        default=None,
        description="Pods (shards) of the latest run of a job with parallelism above 1.",
    )
    shards_done: int | None = Field(
        default=None,
        description="Shards of the latest run committed so far (its Job's completed indexes);"
        " the output is published when all are.",
    )


# Features listed in status.drift: the highest PSI first.
MAX_DRIFT_FEATURES = 16


class FeatureDriftStatus(ApiModel):
    """One feature of the last drift check."""

    name: str = Field(max_length=128, description="Input column.")
    psi: float = Field(description="Population stability index against the reference profile.")
    drifted: bool = Field(
        description="PSI above monitoring.drift.threshold and the difference significant for"
        " the check's size."
    )


class DriftStatus(ApiModel):
    """The last drift check of the model's inputs against its reference profile."""

    drifted: bool = Field(description="Whether any feature drifted in the last check.")
    checked_at: datetime = Field(description="When the data of the last check was complete.")
    source: str = Field(
        max_length=256,
        description="What was checked: batch/<Job name> for a batch run, live/<revision> for"
        " a window of mirrored live traffic.",
    )
    consecutive: int = Field(
        default=0, ge=0, description="Drifted checks in a row; a clean check resets it to 0."
    )
    since: datetime | None = Field(
        default=None, description="The first drifted check of the current streak."
    )
    features: list[FeatureDriftStatus] = Field(
        default_factory=list,
        max_length=MAX_DRIFT_FEATURES,
        description=f"The features with the highest PSI (at most {MAX_DRIFT_FEATURES}).",
    )
    message: StatusMessage = Field(description="The check in words: the worst features.")
    live_checked_at: datetime | None = Field(
        default=None,
        description="When live traffic was last checked (monitoring.drift.mirrorPercent); the"
        " next live check comes a window later, whatever batch runs report meanwhile.",
    )


class ModelDeploymentStatus(ObservedStatus):
    """The observed state of a served model, written by the operator."""

    conditions: list[Condition] = conditions_field(
        "Ready, Available, Progressing, Degraded and more."
    )
    stable: RevisionStatus | None = Field(default=None, description="The serving revision.")
    canary: CanaryStatus | None = Field(default=None, description="The revision rolling out.")
    endpoints: Endpoints | None = Field(default=None, description="Where clients connect.")
    rollout_command: str | None = command_field("rollout.modelship.dev/command", "command/nonce")
    history: list[HistoryEntry] = Field(
        default_factory=list, description="Recent revisions, newest first (bounded)."
    )
    batch: list[BatchJobStatus] = Field(
        default_factory=list,
        description="Batch jobs' last runs.",
        json_schema_extra=list_map("name"),
    )
    drift: DriftStatus | None = Field(
        default=None, description="The last drift check, with monitoring.drift set."
    )
