"""The RetrainJob kind: train a candidate, validate it, promote it through a canary."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from modelship.api.base import (
    DNS_LABEL_PATTERN,
    MESSAGE_MAX_LENGTH,
    URI_MAX_LENGTH,
    ApiModel,
    Args,
    Cron,
    DeadlineSeconds,
    DnsLabel,
    Duration,
    Image,
    ModelUri,
    OutputUri,
    Sha256,
)
from modelship.api.cel import Rule
from modelship.api.common import (
    Condition,
    EnvVar,
    GpuSpec,
    Lineage,
    NodeSelector,
    ObjectMeta,
    Resources,
    Tolerations,
    name_rule,
    resources_field,
)
from modelship.api.model_source import ModelVersion
from modelship.api.status import (
    ObservedStatus,
    StatusMessage,
    command_field,
    conditions_field,
)

NAME_MESSAGE = (
    "metadata.name must be a DNS-1123 label: at most 63 lower case letters, digits "
    "and '-', starting and ending with a letter or digit (it labels every training Job)"
)
KIND = "RetrainJob"
PLURAL = "retrainjobs"

# Where the trainer writes its result; Kubernetes copies it into the pod status.
TERMINATION_MESSAGE_PATH = "/dev/termination-log"


class DriftTrigger(ApiModel):
    """Retrain when the target deployment reports drift (its status.drift)."""

    enabled: bool = Field(default=True, description="Retrain on drift.")
    min_interval: Duration = Field(
        default="24h", description="Least time between two drift-triggered runs (cooldown)."
    )
    windows: int = Field(
        default=1,
        ge=1,
        le=100,
        description="Consecutive drifted check windows the deployment must report first.",
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
    command: Args = Field(default_factory=list, description="Entrypoint override (at most 64).")
    args: Args = Field(default_factory=list, description="Arguments (at most 64).")
    # Bounded so that the API server's CEL cost estimate of EnvVar's rule stays small.
    env: list[EnvVar] = Field(
        default_factory=list,
        max_length=128,
        description="Environment; credentials by Secret reference only.",
    )
    resources: Resources = resources_field("the trainer")
    gpu: GpuSpec | None = Field(default=None, description="NVIDIA GPUs for the trainer.")
    node_selector: NodeSelector = Field(
        default_factory=dict, description="Node labels the trainer pod must match; at most 32."
    )
    tolerations: Tolerations = Field(
        default_factory=list, description="Tolerations of the trainer pod."
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


# Refused rather than left to fail at run time: the trainer's output claim is not mounted
# and a candidate reported under a mount path would not be a uri the others can read.
PVC_OUTPUT_NOT_SUPPORTED = (
    "output.uri pvc:// is not supported for training output yet: write the candidate to"
    " s3, gs, az, file or http(s) storage"
)


class TrainingOutput(ApiModel):
    """Where the trainer writes the packaged candidate."""

    rules = (
        Rule(
            rule="!self.uri.startsWith('pvc://')",
            message=PVC_OUTPUT_NOT_SUPPORTED,
            holds=lambda o: not o.uri.startswith("pvc://"),
        ),
    )

    uri: OutputUri = Field(
        description=(
            "Output uri template, passed as MODELSHIP_OUTPUT_URI; {run} is replaced "
            "with the run's name."
        ),
    )


class EvaluationMetric(StrEnum):
    """What `modelship evaluate` computes (scikit-learn's definitions)."""

    ACCURACY = "accuracy"
    F1 = "f1"
    ROC_AUC = "roc_auc"
    LOG_LOSS = "log_loss"
    RMSE = "rmse"
    MAE = "mae"
    R2 = "r2"


class ValidationSpec(ApiModel):
    """When a candidate is good enough to promote.

    With `data`, a validation Job scores the candidate and the champion on that holdout
    table; without it, the metric the trainer reported is judged and the champion's score
    is the one recorded when it was promoted.
    """

    rules = (
        Rule(
            rule="!has(self.data) || has(self.label)",
            message="validation.data needs validation.label, the column to predict",
            holds=lambda v: v.data is None or v.label is not None,
        ),
        Rule(
            rule=(
                "!has(self.data) || self.metric in "
                "['accuracy', 'f1', 'roc_auc', 'log_loss', 'rmse', 'mae', 'r2']"
            ),
            message=(
                "with validation.data, validation.metric must be one modelship evaluate "
                "computes: accuracy, f1, roc_auc, log_loss, rmse, mae or r2"
            ),
            holds=lambda v: v.data is None or v.metric in EvaluationMetric.__members__.values(),
        ),
    )

    metric: str = Field(
        min_length=1,
        max_length=253,
        description=(
            "Metric that decides: one modelship evaluate computes (accuracy, f1, roc_auc, "
            "log_loss, rmse, mae, r2) with data, else one the trainer reports (e.g. auc)."
        ),
    )
    data: ModelUri | None = Field(
        default=None,
        description=(
            "Holdout table (s3, gs, http(s), pvc or file uri) both models are scored on; "
            "absent: judge the metric the trainer reports."
        ),
    )
    resources: Resources = resources_field("the validation Job's container (modelship evaluate)")
    label: str | None = Field(
        default=None, min_length=1, max_length=253, description="The holdout's label column."
    )
    threshold: float | None = Field(
        default=None,
        description="Absolute bound the candidate's metric must reach (at least, or at most "
        "when lower is better).",
    )
    greater_is_better: bool | None = Field(
        default=None,
        description=(
            "Whether a higher metric is better; absent: false for log_loss, rmse, mae and "
            "names ending in loss or error, else true."
        ),
    )
    must_beat_current: bool = Field(
        default=True, description="The candidate must do better than the champion."
    )
    margin: float = Field(
        default=0.0,
        ge=0,
        description="By how much the candidate must beat the champion's metric (absolute).",
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
