"""The RetrainJob kind: train a candidate, validate it, promote it through a canary."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from modelship.api.base import (
    ARG_MAX_LENGTH,
    DNS_LABEL_PATTERN,
    SHA256_PATTERN,
    ApiModel,
    Cron,
    DeadlineSeconds,
    DnsLabel,
    Duration,
    Image,
    ModelUri,
    OutputUri,
    list_map,
)
from modelship.api.common import (
    Condition,
    EnvVar,
    GpuSpec,
    NodeSelector,
    ObjectMeta,
    ResourceRequirements,
    Toleration,
    name_rule,
)
from modelship.api.model_source import MODEL_VERSION_PATTERN

NAME_MESSAGE = (
    "metadata.name must be a DNS-1123 label: at most 63 lower case letters, digits "
    "and '-', starting and ending with a letter or digit (it labels every training Job)"
)
KIND = "RetrainJob"
PLURAL = "retrainjobs"

# Where the trainer writes its result; Kubernetes copies it into the pod status.
TERMINATION_MESSAGE_PATH = "/dev/termination-log"


class DriftTrigger(ApiModel):
    """Retrain when the target deployment reports drift."""

    enabled: bool = Field(default=True, description="Retrain on drift.")
    min_interval: Duration = Field(
        default="24h", description="Least time between two drift-triggered runs."
    )


class RetrainTriggers(ApiModel):
    """What starts a run besides the schedule."""

    drift: DriftTrigger | None = Field(
        default=None, description="Run when the deployment's drift check fails."
    )


class TrainerTemplate(ApiModel):
    """The training container."""

    image: Image = Field(
        description="Training image: not empty, no whitespace, at most 1024 characters."
    )
    command: list[Annotated[str, Field(max_length=ARG_MAX_LENGTH)]] = Field(
        default_factory=list, max_length=64, description="Entrypoint override (at most 64)."
    )
    args: list[Annotated[str, Field(max_length=ARG_MAX_LENGTH)]] = Field(
        default_factory=list, max_length=64, description="Arguments (at most 64)."
    )
    # Bounded so that the API server's CEL cost estimate of EnvVar's rule stays small.
    env: list[EnvVar] = Field(
        default_factory=list,
        max_length=128,
        description="Environment; credentials by Secret reference only.",
    )
    resources: ResourceRequirements | None = Field(
        default=None, description="CPU and memory of the trainer."
    )
    gpu: GpuSpec | None = Field(default=None, description="NVIDIA GPUs for the trainer.")
    node_selector: NodeSelector = Field(
        default_factory=dict, description="Node labels the trainer pod must match; at most 32."
    )
    tolerations: list[Toleration] = Field(
        default_factory=list, max_length=32, description="Tolerations of the trainer pod."
    )
    service_account_name: DnsLabel | None = Field(
        default=None, description="ServiceAccount the trainer runs as (e.g. for data access)."
    )


class TrainingData(ApiModel):
    """The data a run trains on, passed to the trainer as MODELSHIP_DATA_URI/VERSION."""

    uri: ModelUri = Field(
        description="Training data (s3, gs, http(s), pvc://CLAIM/PATH or file uri).",
    )
    version: str | None = Field(
        default=None, max_length=253, description="Data version, recorded as lineage."
    )


class TrainingOutput(ApiModel):
    """Where the trainer writes the packaged candidate."""

    uri: OutputUri = Field(
        description=(
            "Output uri template, passed as MODELSHIP_OUTPUT_URI; {run} is replaced "
            "with the run's name."
        ),
    )


class ValidationSpec(ApiModel):
    """When a candidate is good enough to promote."""

    metric: str = Field(
        min_length=1, max_length=253, description="Metric the trainer reports, e.g. auc."
    )
    threshold: float | None = Field(
        default=None, description="The candidate's metric must reach at least this."
    )
    greater_is_better: bool = Field(
        default=True, description="false for losses and errors (lower is better)."
    )
    must_beat_current: bool = Field(
        default=True, description="The candidate must do better than the serving model."
    )


class PromotionPolicy(StrEnum):
    AUTOMATIC = "Automatic"
    MANUAL = "Manual"


class ConcurrencyPolicy(StrEnum):
    FORBID = "Forbid"
    REPLACE = "Replace"


class RetrainJobSpec(ApiModel):
    """The desired retraining of a deployed model."""

    model_deployment: DnsLabel = Field(description="ModelDeployment (same namespace) it retrains.")
    schedule: Cron | None = Field(default=None, description="Cron schedule; absent means run once.")
    suspend: bool = Field(default=False, description="Pause scheduled and triggered runs.")
    triggers: RetrainTriggers | None = Field(default=None, description="Triggers besides time.")
    template: TrainerTemplate = Field(description="The training container.")
    data: TrainingData = Field(description="Training data.")
    output: TrainingOutput = Field(description="Where candidates go.")
    validation: ValidationSpec = Field(description="When a candidate may be promoted.")
    promotion: PromotionPolicy = Field(
        default=PromotionPolicy.MANUAL,
        description=(
            "Automatic: a validated candidate becomes the deployment's model (through "
            "its rollout); Manual: it waits in status for a person to approve it."
        ),
    )
    concurrency_policy: ConcurrencyPolicy = Field(
        default=ConcurrencyPolicy.FORBID, description="What to do when a run is still going."
    )
    backoff_limit: int = Field(default=1, ge=0, le=10, description="Retries of a failed run.")
    active_deadline_seconds: DeadlineSeconds = Field(
        default=21600,
        description="A run that takes longer is stopped and failed.",
    )
    history_limit: int = Field(
        default=3, ge=0, le=50, description="Finished runs kept (Jobs and status history)."
    )


class TrainerResult(ApiModel):
    """What a trainer reports, as JSON in its termination message."""

    version: str = Field(
        min_length=1,
        max_length=63,
        pattern=MODEL_VERSION_PATTERN,
        description="Version of the candidate: what model.version would say.",
    )
    uri: ModelUri = Field(
        description="Where the packaged candidate is: what model.uri would say.",
    )
    sha256: str | None = Field(
        default=None, pattern=SHA256_PATTERN, max_length=64, description="Its digest."
    )
    metrics: dict[str, float] = Field(
        default_factory=dict, max_length=64, description="Validation metrics (at most 64)."
    )


class RunOutcome(StrEnum):
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    REJECTED = "Rejected"
    PROMOTED = "Promoted"


class RunRecord(ApiModel):
    """One training run."""

    name: str = Field(description="Name of the run's Job.")
    started_at: datetime | None = Field(default=None, description="When it started.")
    finished_at: datetime | None = Field(default=None, description="When it finished.")
    outcome: RunOutcome = Field(description="What became of it.")
    message: str = Field(default="", description="Why, in a sentence.")
    result: TrainerResult | None = Field(default=None, description="What the trainer reported.")


class RetrainJobStatus(ApiModel):
    """The observed state of retraining, written by the operator."""

    observed_generation: int | None = Field(
        default=None, description="The spec generation the operator last acted on."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready, Progressing, and more.",
        json_schema_extra=list_map("type"),
    )
    last_run: RunRecord | None = Field(default=None, description="The newest run.")
    promoted: TrainerResult | None = Field(
        default=None,
        description="The last promoted candidate: what model.fromRetrainJob serves.",
    )
    history: list[RunRecord] = Field(
        default_factory=list, description="Recent runs, newest first (bounded)."
    )


class RetrainJob(ApiModel):
    """Scheduled or drift-triggered retraining whose candidate must earn its promotion."""

    # The name is a label value on every training Job and pod.
    rules = (name_rule(DNS_LABEL_PATTERN, NAME_MESSAGE),)

    api_version: Literal["modelship.dev/v1alpha1"] = Field(
        default="modelship.dev/v1alpha1", description="modelship.dev/v1alpha1"
    )
    kind: Literal["RetrainJob"] = Field(default="RetrainJob", description="RetrainJob")
    metadata: ObjectMeta = Field(description="Standard object metadata.")
    spec: RetrainJobSpec = Field(description="Desired state.")
    status: RetrainJobStatus | None = Field(default=None, description="Observed state.")
