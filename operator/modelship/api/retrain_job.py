"""The RetrainJob kind: train a candidate, validate it, promote it through a canary."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from modelship.api.base import (
    DNS_LABEL_PATTERN,
    ApiModel,
    Args,
    Cron,
    DeadlineSeconds,
    DnsLabel,
    Duration,
    Image,
    ModelUri,
    OutputUri,
)
from modelship.api.cel import Rule
from modelship.api.common import (
    EnvVar,
    GpuSpec,
    NodeSelector,
    ObjectMeta,
    Resources,
    Tolerations,
    name_rule,
    resources_field,
)
from modelship.api.retrain_job_status import DriftCheck as DriftCheck
from modelship.api.retrain_job_status import RetrainJobStatus as RetrainJobStatus
from modelship.api.retrain_job_status import RunOnce as RunOnce
from modelship.api.retrain_job_status import RunOutcome as RunOutcome
from modelship.api.retrain_job_status import RunRecord as RunRecord
from modelship.api.retrain_job_status import TrainerResult as TrainerResult
from modelship.api.retrain_job_status import TriggerRecord as TriggerRecord
from modelship.api.retrain_job_status import ValidationRecord as ValidationRecord
from modelship.api.retrain_job_status import ValidationVerdict as ValidationVerdict

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
