"""The ModelDeployment kind: a model served on NVIDIA Triton, online and in batch."""

from __future__ import annotations

import itertools
from enum import StrEnum
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from modelship.api.base import (
    DNS_1035_LABEL_PATTERN,
    DNS_LABEL_PATTERN,
    SHA256_PATTERN,
    ApiModel,
    Cron,
    DnsLabel,
    DnsSubdomain,
    Duration,
    list_map,
)
from modelship.api.cel import Rule, cel_rules
from modelship.api.common import (
    PRESERVE_UNKNOWN,
    GpuSpec,
    KubernetesObject,
    ObjectMeta,
    ResourceRequirements,
    Toleration,
    check_name,
    name_rule,
)
from modelship.api.common import Lineage as Lineage

# The status types, importable from here as well as from their own module.
from modelship.api.model_deployment_status import BatchJobStatus as BatchJobStatus
from modelship.api.model_deployment_status import CanaryStatus as CanaryStatus
from modelship.api.model_deployment_status import Endpoints as Endpoints
from modelship.api.model_deployment_status import HistoryEntry as HistoryEntry
from modelship.api.model_deployment_status import ModelDeploymentStatus as ModelDeploymentStatus
from modelship.api.model_deployment_status import RevisionOutcome as RevisionOutcome
from modelship.api.model_deployment_status import RevisionStatus as RevisionStatus

KIND = "ModelDeployment"
PLURAL = "modeldeployments"

NAME_MESSAGE = (
    "metadata.name must be a DNS-1035 label: at most 63 lower case letters, digits "
    "and '-', starting with a letter (it names the stable Service)"
)
MODEL_URI_PATTERN = r"^(s3|gs|https?|pvc|file)://.+"
DEFAULT_TRITON_IMAGE = "ghcr.io/modelship/tritonserver:24.10-modelship-0.1.0"


class ModelFormat(StrEnum):
    ONNX = "onnx"
    TENSORRT = "tensorrt"
    TORCHSCRIPT = "torchscript"
    TENSORFLOW = "tensorflow"
    PYTHON = "python"


class ModelSource(ApiModel):
    """Which model to serve: a packaged Triton model repository and its provenance."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            Rule(
                rule="has(self.uri) == has(self.version)",
                message="model.uri and model.version go together",
            ),
            Rule(
                rule="has(self.uri) != has(self.fromRetrainJob)",
                message="set exactly one of model.uri (with model.version) or model.fromRetrainJob",
            ),
        )
    )

    name: DnsLabel = Field(
        description="Model name: the directory name in the Triton model repository."
    )
    version: str | None = Field(
        default=None,
        min_length=1,
        max_length=63,
        pattern=r"^[A-Za-z0-9]([-._A-Za-z0-9]*[A-Za-z0-9])?$",
        description="Version of the model. A new version (or uri) makes a new revision.",
    )
    uri: str | None = Field(
        default=None,
        pattern=MODEL_URI_PATTERN,
        description=(
            "Where the packaged model repository is: s3://, gs://, http(s)://, "
            "pvc://CLAIM/PATH or file:// (tests)."
        ),
    )
    format: ModelFormat = Field(
        default=ModelFormat.ONNX, description="Format of the model inside the repository."
    )
    sha256: str | None = Field(
        default=None,
        pattern=SHA256_PATTERN,
        description="Digest printed by `modelship package`; the pod refuses a model that differs.",
    )
    credentials_secret: DnsSubdomain | None = Field(
        default=None,
        description=(
            "Secret whose keys become the fetch container's environment "
            "(e.g. AWS_ACCESS_KEY_ID); referenced, never copied."
        ),
    )
    lineage: Lineage | None = Field(
        default=None, description="Data, code and parameters this version was trained with."
    )
    from_retrain_job: DnsLabel | None = Field(
        default=None,
        description=(
            "Instead of uri and version: serve the latest version this RetrainJob "
            "(same namespace) validated and promoted."
        ),
    )

    @model_validator(mode="after")
    def _one_source(self) -> ModelSource:
        if (self.uri is None) != (self.version is None):
            raise ValueError("model.uri and model.version go together")
        if (self.uri is None) == (self.from_retrain_job is None):
            raise ValueError(
                "set exactly one of model.uri (with model.version) or model.fromRetrainJob"
            )
        return self


class DynamicBatching(ApiModel):
    """Triton dynamic batching: requests are merged into batches on the server."""

    max_queue_delay_microseconds: int = Field(
        default=100,
        ge=0,
        description="How long a request may wait for others to form a batch.",
    )
    preferred_batch_sizes: list[int] = Field(
        default_factory=list,
        description="Batch sizes Triton tries to form; empty lets Triton choose.",
    )


class ServingSpec(ApiModel):
    """How the Triton inference server runs."""

    image: str = Field(
        default=DEFAULT_TRITON_IMAGE,
        description="Triton server image; it must also carry `modelship fetch`.",
    )
    replicas: int = Field(
        default=1, ge=0, description="Pods of the stable revision when autoscaling is off."
    )
    resources: ResourceRequirements | None = Field(
        default=None, description="CPU and memory of the Triton container."
    )
    gpu: GpuSpec | None = Field(default=None, description="NVIDIA GPUs for each pod.")
    node_selector: dict[str, str] = Field(
        default_factory=dict, description="Node labels pods must match (merged with GPU ones)."
    )
    tolerations: list[Toleration] = Field(
        default_factory=list,
        description="Tolerations added to the pods (the GPU taint is tolerated by default).",
    )
    affinity: KubernetesObject | None = Field(
        default=None,
        description="A Kubernetes Affinity object for the pods.",
        json_schema_extra=PRESERVE_UNKNOWN,
    )
    dynamic_batching: DynamicBatching | None = Field(
        default=None, description="Server-side batching; off when absent."
    )
    instance_count: int = Field(
        default=1, ge=1, le=64, description="Model instances Triton runs in each pod."
    )
    args: list[str] = Field(
        default_factory=list, description="Extra tritonserver command-line arguments."
    )


class AutoscalingEngine(StrEnum):
    HPA = "hpa"
    KEDA = "keda"


class MetricType(StrEnum):
    CPU = "cpu"
    MEMORY = "memory"
    GPU_UTILIZATION = "gpuUtilization"
    QUEUE_TIME_MICROSECONDS = "queueTimeMicroseconds"
    REQUESTS_PER_SECOND = "requestsPerSecond"


# Metrics read from Triton's Prometheus endpoint rather than the resource metrics API.
TRITON_METRICS = frozenset(
    {
        MetricType.GPU_UTILIZATION,
        MetricType.QUEUE_TIME_MICROSECONDS,
        MetricType.REQUESTS_PER_SECOND,
    }
)


# Scale to zero needs the HPAScaleToZero feature gate, which clusters rarely enable.
HPA_SCALE_TO_ZERO = (
    "a HorizontalPodAutoscaler cannot scale to zero: set minReplicas to 1 or more, "
    "or use engine keda"
)


class ScalingMetric(ApiModel):
    """One signal the autoscaler follows."""

    type: MetricType = Field(description="Which signal.")
    target: int = Field(
        ge=1,
        description=(
            "Target per pod: percent of requests for cpu and memory, percent for "
            "gpuUtilization, average microseconds for queueTimeMicroseconds, "
            "requests per second for requestsPerSecond."
        ),
    )


class AutoscalingSpec(ApiModel):
    """Scale the stable revision between bounds on CPU, memory, GPU or Triton metrics."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            Rule(
                rule="self.minReplicas <= self.maxReplicas",
                message="minReplicas must not exceed maxReplicas",
                message_expression=(
                    "'minReplicas (' + string(self.minReplicas) + ') must not exceed "
                    "maxReplicas (' + string(self.maxReplicas) + ')'"
                ),
            ),
            Rule(
                rule="self.engine != 'hpa' || self.minReplicas >= 1",
                message=HPA_SCALE_TO_ZERO,
            ),
            Rule(
                rule=(
                    "self.engine != 'keda' || has(self.prometheusUrl) || "
                    "self.metrics.all(m, m.type == 'cpu' || m.type == 'memory')"
                ),
                message="KEDA scaling on Triton metrics needs prometheusUrl",
            ),
        )
    )

    min_replicas: int = Field(default=1, ge=0, description="Fewest pods.")
    max_replicas: int = Field(ge=1, description="Most pods.")
    engine: AutoscalingEngine = Field(
        default=AutoscalingEngine.HPA,
        description=(
            "hpa: a HorizontalPodAutoscaler (Triton metrics come through the custom "
            "metrics API); keda: a KEDA ScaledObject with Prometheus triggers."
        ),
    )
    metrics: list[ScalingMetric] = Field(
        default_factory=lambda: [ScalingMetric(type=MetricType.CPU, target=80)],
        min_length=1,
        max_length=10,
        description="Signals to scale on; the largest wanted replica count wins.",
    )
    prometheus_url: str | None = Field(
        default=None,
        pattern=r"^https?://.+",
        description="Prometheus that scrapes Triton, queried by KEDA for Triton metrics.",
    )

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalingSpec:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"minReplicas ({self.min_replicas}) must not exceed "
                f"maxReplicas ({self.max_replicas})"
            )
        if self.engine == AutoscalingEngine.HPA and self.min_replicas < 1:
            raise ValueError(HPA_SCALE_TO_ZERO)
        wants_triton = any(m.type in TRITON_METRICS for m in self.metrics)
        if self.engine == AutoscalingEngine.KEDA and wants_triton and not self.prometheus_url:
            raise ValueError("KEDA scaling on Triton metrics needs prometheusUrl")
        return self


class RolloutStrategy(StrEnum):
    CANARY = "Canary"
    RECREATE = "Recreate"


class CanaryStep(ApiModel):
    """Send a share of traffic to the new revision, then wait."""

    weight: int = Field(ge=1, le=100, description="Percent of traffic to the new revision.")
    pause: Duration = Field(
        default="1m", description="How long to hold this weight while analysis runs."
    )


class MetricsProviderType(StrEnum):
    TRITON = "triton"
    PROMETHEUS = "prometheus"


class MetricsProvider(ApiModel):
    """Where canary analysis reads request counts, failures and latency."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            Rule(
                rule="self.type != 'prometheus' || has(self.url)",
                message="a prometheus metrics provider needs url",
            ),
        )
    )

    type: MetricsProviderType = Field(
        default=MetricsProviderType.TRITON,
        description="triton: scrape each revision's metrics port; prometheus: query url.",
    )
    url: str | None = Field(
        default=None, pattern=r"^https?://.+", description="Prometheus base URL."
    )

    @model_validator(mode="after")
    def _url(self) -> MetricsProvider:
        if self.type == MetricsProviderType.PROMETHEUS and self.url is None:
            raise ValueError("a prometheus metrics provider needs url")
        return self


class CanaryAnalysis(ApiModel):
    """How the new revision is judged against the stable one while traffic shifts."""

    interval: Duration = Field(default="1m", description="Time between two measurements.")
    max_failure_rate_increase: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description=(
            "How much higher the canary's failure rate may be than stable's "
            "(0.01 = one percentage point)."
        ),
    )
    max_latency_ratio: float = Field(
        default=1.5,
        ge=1,
        description="Largest allowed canary mean latency divided by stable's.",
    )
    min_requests: int = Field(
        default=100, ge=0, description="Requests a canary must have served before it is judged."
    )
    failure_limit: int = Field(
        default=2, ge=0, description="Failed measurements tolerated before automatic rollback."
    )
    provider: MetricsProvider = Field(
        default_factory=MetricsProvider, description="Where the metrics come from."
    )


class TrafficRouter(StrEnum):
    GATEWAY_API = "gatewayAPI"
    REPLICAS = "replicas"


class ParentReference(ApiModel):
    """A Gateway API parent (usually a Gateway) the HTTPRoute attaches to."""

    group: str = Field(default="gateway.networking.k8s.io", description="API group.")
    kind: str = Field(default="Gateway", description="Kind of the parent.")
    name: str = Field(description="Name of the parent.")
    namespace: str | None = Field(default=None, description="Namespace; defaults to the route's.")
    section_name: str | None = Field(default=None, description="Listener name on the parent.")


class CanaryTraffic(ApiModel):
    """How traffic is split between the stable and canary revisions."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            Rule(
                # has(): an empty list is not stored, so parentRefs may be absent.
                rule=(
                    "self.router != 'gatewayAPI' || "
                    "(has(self.parentRefs) && size(self.parentRefs) > 0)"
                ),
                message="the gatewayAPI router needs at least one parentRef",
            ),
        )
    )

    router: TrafficRouter = Field(
        default=TrafficRouter.REPLICAS,
        description=(
            "replicas: split by pod counts behind the stable Service; gatewayAPI: "
            "weighted backends of an HTTPRoute."
        ),
    )
    parent_refs: list[ParentReference] = Field(
        default_factory=list,
        max_length=32,
        description="Gateways the HTTPRoute attaches to (gatewayAPI).",
    )

    @model_validator(mode="after")
    def _parents(self) -> CanaryTraffic:
        if self.router == TrafficRouter.GATEWAY_API and not self.parent_refs:
            raise ValueError("the gatewayAPI router needs at least one parentRef")
        return self


class CanarySpec(ApiModel):
    """A canary rollout: shift traffic step by step, judge, roll back on failure."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            Rule(
                rule=(
                    "self.steps.map(s, s.weight).isSorted() && "
                    "self.steps.all(s, self.steps.exists_one(t, t.weight == s.weight))"
                ),
                message="canary step weights must be strictly increasing",
            ),
        )
    )

    steps: list[CanaryStep] = Field(
        default_factory=lambda: [CanaryStep(weight=10), CanaryStep(weight=50)],
        min_length=1,
        max_length=20,
        description="Traffic steps, in strictly increasing weight; 100% follows the last.",
    )
    analysis: CanaryAnalysis = Field(
        default_factory=CanaryAnalysis, description="How each step is judged."
    )
    traffic: CanaryTraffic = Field(
        default_factory=CanaryTraffic, description="How traffic is split."
    )

    @model_validator(mode="after")
    def _increasing(self) -> CanarySpec:
        weights = [step.weight for step in self.steps]
        if any(a >= b for a, b in itertools.pairwise(weights)):
            raise ValueError(f"canary step weights must be strictly increasing, got {weights}")
        return self


class RolloutSpec(ApiModel):
    """How a new model revision replaces the running one."""

    strategy: RolloutStrategy = Field(
        default=RolloutStrategy.RECREATE,
        description=(
            "Recreate: the new revision takes over once available; Canary: traffic "
            "shifts in steps judged on live metrics."
        ),
    )
    canary: CanarySpec | None = Field(
        default=None, description="Canary settings; defaults apply when strategy is Canary."
    )


class DataFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"
    JSONL = "jsonl"


TABLE_EXTENSIONS = (".csv", ".parquet", ".jsonl")
_ENDS_AS_TABLE = " || ".join(f"self.uri.endsWith('{ext}')" for ext in TABLE_EXTENSIONS)
INPUT_FORMAT_UNKNOWN = (
    "input.uri does not end in .csv, .parquet or .jsonl: name its format in input.format"
)
OUTPUT_FORMAT_UNKNOWN = "output.uri must end in .csv, .parquet or .jsonl (its format)"
OUTPUT_NOT_PER_RUN = (
    "output.uri must contain {date} or {run}: a scheduled job writes a new output each "
    "run, and an existing output is never overwritten"
)


def _is_table(uri: str) -> bool:
    return uri.endswith(TABLE_EXTENSIONS)


class BatchInput(ApiModel):
    """The table a batch job scores."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            Rule(rule=f"has(self.format) || {_ENDS_AS_TABLE}", message=INPUT_FORMAT_UNKNOWN),
        )
    )

    uri: str = Field(
        pattern=r"^(s3|gs|https?|pvc|file)://.+",
        description="The input table (one object or file); {date} and {run} name the run.",
    )
    format: DataFormat | None = Field(
        default=None, description="csv, parquet or jsonl; taken from the extension when absent."
    )

    @model_validator(mode="after")
    def _known_format(self) -> BatchInput:
        if self.format is None and not _is_table(self.uri):
            raise ValueError(INPUT_FORMAT_UNKNOWN)
        return self


class BatchOutput(ApiModel):
    """Where the predictions go; they appear only once complete."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            Rule(rule=_ENDS_AS_TABLE, message=OUTPUT_FORMAT_UNKNOWN),
            Rule(
                rule="self.uri.contains('{date}') || self.uri.contains('{run}')",
                message=OUTPUT_NOT_PER_RUN,
            ),
        )
    )

    uri: str = Field(
        pattern=r"^(s3|gs|pvc|file)://.+",
        description="The output table; its extension (.csv, .parquet, .jsonl) picks the format."
        " {date} (the scheduled day) and {run} (the Job's name) give each run its own output.",
    )

    @model_validator(mode="after")
    def _per_run_table(self) -> BatchOutput:
        if not _is_table(self.uri):
            raise ValueError(OUTPUT_FORMAT_UNKNOWN)
        if "{date}" not in self.uri and "{run}" not in self.uri:
            raise ValueError(OUTPUT_NOT_PER_RUN)
        return self


class BatchJob(ApiModel):
    """A scheduled scoring job over a table, run as a CronJob."""

    # Shorter than a DNS label: the CronJob is named after the deployment and the job.
    name: str = Field(
        pattern=DNS_LABEL_PATTERN,
        min_length=1,
        max_length=40,
        description="Job name, unique in this deployment.",
    )
    schedule: Cron = Field(description="Cron schedule, e.g. '0 2 * * *'.")
    input: BatchInput = Field(description="The table to score.")
    output: BatchOutput = Field(description="Where predictions are written.")
    batch_size: int = Field(default=4096, ge=1, description="Rows per inference call.")
    concurrency: int = Field(
        default=1,
        ge=1,
        le=64,
        description="onnxruntime threads scoring in the job's pod; match the CPU it requests.",
    )
    suspend: bool = Field(default=False, description="Pause the schedule.")
    active_deadline_seconds: int = Field(
        default=21600, ge=60, description="A run that takes longer is stopped and failed."
    )
    resources: ResourceRequirements | None = Field(
        default=None, description="CPU and memory of the scoring container."
    )


class DriftAction(StrEnum):
    ALERT = "alert"
    RETRAIN = "retrain"


class DriftMonitoring(ApiModel):
    """Compare what the model sees with its training reference profile."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            Rule(
                rule="self.action != 'retrain' || has(self.retrainJob)",
                message="drift action retrain needs retrainJob",
            ),
        )
    )

    reference: str | None = Field(
        default=None,
        description="Reference profile uri; the one packaged with the model when absent.",
    )
    threshold: float = Field(
        default=0.2,
        gt=0,
        description="Population stability index above which a feature counts as drifted.",
    )
    window: Duration = Field(default="24h", description="How much recent data each check sees.")
    action: DriftAction = Field(
        default=DriftAction.ALERT, description="alert: set a condition; retrain: also trigger."
    )
    retrain_job: DnsLabel | None = Field(
        default=None, description="RetrainJob (same namespace) to trigger on drift."
    )

    @model_validator(mode="after")
    def _retrain_target(self) -> DriftMonitoring:
        if self.action == DriftAction.RETRAIN and self.retrain_job is None:
            raise ValueError("drift action retrain needs retrainJob")
        return self


class MonitoringSpec(ApiModel):
    """What is watched once the model serves."""

    drift: DriftMonitoring | None = Field(default=None, description="Data drift checks.")


class ModelDeploymentSpec(ApiModel):
    """The desired state of a served model."""

    model: ModelSource = Field(description="Which model to serve.")
    serving: ServingSpec = Field(default_factory=ServingSpec, description="How Triton runs.")
    autoscaling: AutoscalingSpec | None = Field(
        default=None, description="Scale between bounds; fixed serving.replicas when absent."
    )
    rollout: RolloutSpec = Field(
        default_factory=RolloutSpec, description="How new revisions replace old ones."
    )
    batch: list[BatchJob] = Field(
        default_factory=list,
        description="Scheduled batch scoring jobs.",
        json_schema_extra=list_map("name"),
    )
    monitoring: MonitoringSpec | None = Field(default=None, description="Drift monitoring.")

    @model_validator(mode="after")
    def _unique_batch_names(self) -> ModelDeploymentSpec:
        names = [job.name for job in self.batch]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"batch job names must be unique, repeated: {', '.join(duplicates)}")
        return self


class ModelDeployment(ApiModel):
    """A trained model served on NVIDIA Triton, online and in batch."""

    # The name becomes the stable Service's name and a label value on every child.
    model_config = ConfigDict(
        json_schema_extra=cel_rules(name_rule(DNS_1035_LABEL_PATTERN, NAME_MESSAGE))
    )

    api_version: Literal["modelship.dev/v1alpha1"] = Field(
        default="modelship.dev/v1alpha1", description="modelship.dev/v1alpha1"
    )
    kind: Literal["ModelDeployment"] = Field(
        default="ModelDeployment", description="ModelDeployment"
    )
    metadata: ObjectMeta = Field(description="Standard object metadata.")
    spec: ModelDeploymentSpec = Field(description="Desired state.")
    status: ModelDeploymentStatus | None = Field(default=None, description="Observed state.")

    @model_validator(mode="after")
    def _service_name(self) -> ModelDeployment:
        check_name(self.metadata.name, DNS_1035_LABEL_PATTERN, NAME_MESSAGE)
        return self

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> ModelDeployment:
        return cls.model_validate(manifest)
