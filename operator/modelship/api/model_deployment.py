"""The ModelDeployment kind: a model served on NVIDIA Triton, online and in batch."""

from __future__ import annotations

import itertools
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from modelship.api.base import (
    ARG_MAX_LENGTH,
    DNS_1035_LABEL_PATTERN,
    DNS_LABEL_PATTERN,
    DNS_SUBDOMAIN_PATTERN,
    INT32_MAX,
    SHA256_PATTERN,
    URI_MAX_LENGTH,
    ApiModel,
    Cron,
    DnsLabel,
    DnsSubdomain,
    Duration,
    Image,
    list_map,
    uri_pattern,
)
from modelship.api.cel import Rule, cel_rules
from modelship.api.common import (
    PRESERVE_UNKNOWN,
    GpuSpec,
    KubernetesObject,
    NodeSelector,
    ObjectMeta,
    ResourceRequirements,
    Toleration,
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
MODEL_URI_PATTERN = uri_pattern("s3", "gs", "https?", "pvc", "file")
# Outputs are written, so no http(s).
OUTPUT_URI_PATTERN = uri_pattern("s3", "gs", "pvc", "file")
HTTP_URL_PATTERN = uri_pattern("https?")
MODEL_VERSION_PATTERN = r"^[A-Za-z0-9]([-._A-Za-z0-9]*[A-Za-z0-9])?$"
DEFAULT_TRITON_IMAGE = "ghcr.io/modelship/tritonserver:24.10-modelship-0.1.0"


class ModelFormat(StrEnum):
    ONNX = "onnx"
    TENSORRT = "tensorrt"
    TORCHSCRIPT = "torchscript"
    TENSORFLOW = "tensorflow"
    PYTHON = "python"


class ModelSource(ApiModel):
    """Which model to serve: a packaged Triton model repository and its provenance."""

    rules = (
        Rule(
            rule="has(self.uri) == has(self.version)",
            message="model.uri and model.version go together",
            holds=lambda m: (m.uri is None) == (m.version is None),
        ),
        Rule(
            rule="has(self.uri) != has(self.fromRetrainJob)",
            message="set exactly one of model.uri (with model.version) or model.fromRetrainJob",
            holds=lambda m: (m.uri is None) != (m.from_retrain_job is None),
        ),
    )

    name: DnsLabel = Field(
        description="Model name: the directory name in the Triton model repository."
    )
    version: str | None = Field(
        default=None,
        min_length=1,
        max_length=63,
        pattern=MODEL_VERSION_PATTERN,
        description="Version of the model. A new version (or uri) makes a new revision.",
    )
    uri: str | None = Field(
        default=None,
        pattern=MODEL_URI_PATTERN,
        max_length=URI_MAX_LENGTH,
        description=(
            "Where the packaged model repository is: s3://, gs://, http(s)://, "
            "pvc://CLAIM/PATH (CLAIM a PersistentVolumeClaim's name) or file:// (tests); "
            "at most 2048 characters."
        ),
    )
    format: ModelFormat = Field(
        default=ModelFormat.ONNX, description="Format of the model inside the repository."
    )
    sha256: str | None = Field(
        default=None,
        pattern=SHA256_PATTERN,
        max_length=64,
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


class DynamicBatching(ApiModel):
    """Triton dynamic batching: requests are merged into batches on the server."""

    max_queue_delay_microseconds: int = Field(
        default=100,
        ge=0,
        le=INT32_MAX,
        description="How long a request may wait for others to form a batch.",
    )
    preferred_batch_sizes: list[Annotated[int, Field(ge=1, le=INT32_MAX)]] = Field(
        default_factory=list,
        max_length=16,
        description=(
            "Batch sizes Triton tries to form (at most 16, each at most the packaged "
            "max batch size); empty lets Triton choose."
        ),
    )


class ServingSpec(ApiModel):
    """How the Triton inference server runs."""

    image: Image = Field(
        default=DEFAULT_TRITON_IMAGE,
        description=(
            "Triton server image; it must also carry `modelship fetch`. Not empty, no "
            "whitespace, at most 1024 characters."
        ),
    )
    replicas: int = Field(
        default=1,
        ge=0,
        le=INT32_MAX,
        description="Pods of the stable revision when autoscaling is off.",
    )
    resources: ResourceRequirements | None = Field(
        default=None, description="CPU and memory of the Triton container."
    )
    gpu: GpuSpec | None = Field(default=None, description="NVIDIA GPUs for each pod.")
    node_selector: NodeSelector = Field(
        default_factory=dict,
        description="Node labels pods must match (merged with GPU ones); at most 32.",
    )
    tolerations: list[Toleration] = Field(
        default_factory=list,
        max_length=32,
        description=(
            "Tolerations added to the pods (the GPU taint is tolerated by default); at most 32."
        ),
    )
    affinity: KubernetesObject | None = Field(
        default=None,
        description="A Kubernetes Affinity object for the pods.",
        json_schema_extra=PRESERVE_UNKNOWN,
    )
    dynamic_batching: DynamicBatching | None = Field(
        default=None,
        description=(
            "Server-side batching. When set, Triton batches with these settings (the model "
            "must have been packaged with a max batch size above 0). When absent, the "
            "packaged config.pbtxt decides: `modelship package` turns dynamic batching on "
            "unless told otherwise."
        ),
    )
    instance_count: int = Field(
        default=1, ge=1, le=64, description="Model instances Triton runs in each pod."
    )
    args: list[Annotated[str, Field(max_length=ARG_MAX_LENGTH)]] = Field(
        default_factory=list,
        max_length=64,
        description="Extra tritonserver command-line arguments (at most 64).",
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
REPLICA_BOUNDS = "minReplicas must not exceed maxReplicas"
# KEDA's admission webhook (scaledobject_webhook.go, verifyCPUMemoryScalers) refuses these.
KEDA_SCALE_TO_ZERO_ON_RESOURCES = (
    "KEDA cannot scale to zero on cpu and memory alone: set minReplicas to 1 or more, "
    "or add a Triton metric"
)
KEDA_CPU_REQUEST = (
    "KEDA's cpu metric needs serving.resources.requests.cpu (or limits.cpu): KEDA refuses "
    "a ScaledObject whose Triton container requests no cpu"
)
KEDA_MEMORY_REQUEST = (
    "KEDA's memory metric needs serving.resources.requests.memory (or limits.memory): KEDA "
    "refuses a ScaledObject whose Triton container requests no memory"
)
# The ScaledObject is named after the ModelDeployment and KEDA names its HPA
# keda-hpa-<name>, which must fit in 63 characters (verifyName).
KEDA_NAME_MAX_LENGTH = 63 - len("keda-hpa-")
KEDA_NAME = (
    f"with engine keda, metadata.name must be at most {KEDA_NAME_MAX_LENGTH} characters: "
    "KEDA names its HorizontalPodAutoscaler keda-hpa-<name>, at most 63"
)


class ScalingMetric(ApiModel):
    """One signal the autoscaler follows."""

    type: MetricType = Field(description="Which signal.")
    target: int = Field(
        ge=1,
        le=INT32_MAX,
        description=(
            "Target per pod: percent of requests for cpu and memory, percent for "
            "gpuUtilization, average microseconds for queueTimeMicroseconds, "
            "requests per second for requestsPerSecond."
        ),
    )


class AutoscalingSpec(ApiModel):
    """Scale the stable revision between bounds on CPU, memory, GPU or Triton metrics."""

    rules = (
        # No messageExpression naming the numbers: the API server cannot bound the
        # length of string(int), estimates its cost as unbounded and refuses the CRD.
        Rule(
            rule="self.minReplicas <= self.maxReplicas",
            message=REPLICA_BOUNDS,
            holds=lambda a: a.min_replicas <= a.max_replicas,
            detail=lambda a: f" ({a.min_replicas} > {a.max_replicas})",
        ),
        Rule(
            rule="self.engine != 'hpa' || self.minReplicas >= 1",
            message=HPA_SCALE_TO_ZERO,
            holds=lambda a: a.engine != AutoscalingEngine.HPA or a.min_replicas >= 1,
        ),
        Rule(
            rule=(
                "self.engine != 'keda' || has(self.prometheusUrl) || "
                "self.metrics.all(m, m.type == 'cpu' || m.type == 'memory')"
            ),
            message="KEDA scaling on Triton metrics needs prometheusUrl",
            holds=lambda a: (
                a.engine != AutoscalingEngine.KEDA
                or bool(a.prometheus_url)
                or not a.wants_triton_metrics
            ),
        ),
        Rule(
            rule=(
                "self.engine != 'keda' || self.minReplicas >= 1 || "
                "self.metrics.exists(m, m.type != 'cpu' && m.type != 'memory')"
            ),
            message=KEDA_SCALE_TO_ZERO_ON_RESOURCES,
            holds=lambda a: (
                a.engine != AutoscalingEngine.KEDA or a.min_replicas >= 1 or a.wants_triton_metrics
            ),
        ),
    )

    min_replicas: int = Field(default=1, ge=0, le=INT32_MAX, description="Fewest pods.")
    max_replicas: int = Field(ge=1, le=INT32_MAX, description="Most pods.")
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
        pattern=HTTP_URL_PATTERN,
        max_length=URI_MAX_LENGTH,
        description="Prometheus that scrapes Triton, queried by KEDA for Triton metrics.",
    )

    @property
    def wants_triton_metrics(self) -> bool:
        return any(m.type in TRITON_METRICS for m in self.metrics)

    def keda_scales_on(self, metric: MetricType) -> bool:
        """Whether KEDA scales on ``metric`` (cpu or memory need a request to do so)."""
        return self.engine == AutoscalingEngine.KEDA and any(m.type == metric for m in self.metrics)


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

    rules = (
        Rule(
            rule="self.type != 'prometheus' || has(self.url)",
            message="a prometheus metrics provider needs url",
            holds=lambda p: p.type != MetricsProviderType.PROMETHEUS or p.url is not None,
        ),
    )

    type: MetricsProviderType = Field(
        default=MetricsProviderType.TRITON,
        description="triton: scrape each revision's metrics port; prometheus: query url.",
    )
    url: str | None = Field(
        default=None,
        pattern=HTTP_URL_PATTERN,
        max_length=URI_MAX_LENGTH,
        description="Prometheus base URL.",
    )


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
        default=100,
        ge=0,
        le=INT32_MAX,
        description="Requests a canary must have served before it is judged.",
    )
    failure_limit: int = Field(
        default=2,
        ge=0,
        le=INT32_MAX,
        description="Failed measurements tolerated before automatic rollback.",
    )
    provider: MetricsProvider = Field(
        default_factory=MetricsProvider, description="Where the metrics come from."
    )


class TrafficRouter(StrEnum):
    GATEWAY_API = "gatewayAPI"
    REPLICAS = "replicas"


class ParentReference(ApiModel):
    """A Gateway API parent (usually a Gateway) the HTTPRoute attaches to.

    Bounds and patterns are the upstream HTTPRoute CRD's (Gateway API v1.6.1, standard
    channel), so every route we render is one the Gateway API accepts.
    """

    group: str = Field(
        default="gateway.networking.k8s.io",
        max_length=253,
        pattern=rf"^$|{DNS_SUBDOMAIN_PATTERN}",
        description="API group of the parent; empty for the core group.",
    )
    kind: str = Field(
        default="Gateway",
        min_length=1,
        max_length=63,
        pattern=r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$",
        description="Kind of the parent.",
    )
    name: str = Field(min_length=1, max_length=253, description="Name of the parent.")
    namespace: DnsLabel | None = Field(
        default=None, description="Namespace; defaults to the route's."
    )
    section_name: DnsSubdomain | None = Field(
        default=None, description="Listener name on the parent (a DNS-1123 subdomain)."
    )
    port: int | None = Field(
        default=None, ge=1, le=65535, description="Port on the parent (listener port)."
    )

    def parent(self) -> tuple[str, str, str, str]:
        """The object referenced: group, kind, name and namespace ('' for the route's)."""
        return (self.group, self.kind, self.name, self.namespace or "")


# The HTTPRoute CRD's own rules on parentRefs, copied verbatim (namespace is a CEL
# reserved word, escaped as __namespace__ as the API server requires).
_SAME_PARENT = (
    "p1.group == p2.group && p1.kind == p2.kind && p1.name == p2.name && "
    "(((!has(p1.__namespace__) || p1.__namespace__ == '') && "
    "(!has(p2.__namespace__) || p2.__namespace__ == '')) || "
    "(has(p1.__namespace__) && has(p2.__namespace__) && "
    "p1.__namespace__ == p2.__namespace__ ))"
)
SECTION_NAME_NEEDED = (
    "sectionName must be specified when parentRefs includes 2 or more references to the same parent"
)
SECTION_NAME_UNIQUE = (
    "sectionName must be unique when parentRefs includes 2 or more references to the same parent"
)
PARENT_REF_RULES = cel_rules(
    Rule(
        rule=(
            f"self.all(p1, self.all(p2, {_SAME_PARENT} ? "
            "((!has(p1.sectionName) || p1.sectionName == '') == "
            "(!has(p2.sectionName) || p2.sectionName == '')) : true))"
        ),
        message=SECTION_NAME_NEEDED,
    ),
    Rule(
        rule=(
            f"self.all(p1, self.exists_one(p2, {_SAME_PARENT} && "
            "(((!has(p1.sectionName) || p1.sectionName == '') && "
            "(!has(p2.sectionName) || p2.sectionName == '')) || "
            "(has(p1.sectionName) && has(p2.sectionName) && "
            "p1.sectionName == p2.sectionName))))"
        ),
        message=SECTION_NAME_UNIQUE,
    ),
)


def _parent_ref_problem(refs: list[ParentReference]) -> str | None:
    """The Gateway API's parentRefs rules, in Python: which of the two a list breaks."""
    for first in refs:
        same = [other for other in refs if other.parent() == first.parent()]
        if any(bool(other.section_name) != bool(first.section_name) for other in same):
            return SECTION_NAME_NEEDED
    for first in refs:
        same = [
            other
            for other in refs
            if other.parent() == first.parent()
            and (other.section_name or "") == (first.section_name or "")
        ]
        if len(same) != 1:
            return SECTION_NAME_UNIQUE
    return None


GRPC_NEEDS_GATEWAY = "grpcParentRefs needs the gatewayAPI router"


class CanaryTraffic(ApiModel):
    """How traffic is split between the stable and canary revisions."""

    rules = (
        Rule(
            # has(): an empty list is not stored, so parentRefs may be absent.
            rule=(
                "self.router != 'gatewayAPI' || (has(self.parentRefs) && size(self.parentRefs) > 0)"
            ),
            message="the gatewayAPI router needs at least one parentRef",
            holds=lambda t: t.router != TrafficRouter.GATEWAY_API or bool(t.parent_refs),
        ),
        Rule(
            rule=(
                "self.router == 'gatewayAPI' || !has(self.grpcParentRefs) || "
                "size(self.grpcParentRefs) == 0"
            ),
            message=GRPC_NEEDS_GATEWAY,
            holds=lambda t: t.router == TrafficRouter.GATEWAY_API or not t.grpc_parent_refs,
        ),
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
        description=(
            "Gateways the HTTPRoute attaches to (gatewayAPI); at most 32, each parent once "
            "(or once per sectionName, then every reference to it names one)."
        ),
        json_schema_extra=PARENT_REF_RULES,
    )
    grpc_parent_refs: list[ParentReference] = Field(
        default_factory=list,
        max_length=32,
        description=(
            "Gateways (gRPC listeners) the GRPCRoute for Triton's gRPC port 8001 attaches to "
            "(gatewayAPI); empty: gRPC traffic is not split. Not the HTTPRoute's parents: "
            "a listener accepts only one of an HTTPRoute and a GRPCRoute for a hostname."
        ),
        json_schema_extra=PARENT_REF_RULES,
    )

    @model_validator(mode="after")
    def _parents(self) -> CanaryTraffic:
        for refs in (self.parent_refs, self.grpc_parent_refs):
            problem = _parent_ref_problem(refs)
            if problem is not None:
                raise ValueError(problem)
        return self


class CanarySpec(ApiModel):
    """A canary rollout: shift traffic step by step, judge, roll back on failure."""

    rules = (
        Rule(
            rule=(
                "self.steps.map(s, s.weight).isSorted() && "
                "self.steps.all(s, self.steps.exists_one(t, t.weight == s.weight))"
            ),
            message="canary step weights must be strictly increasing",
            holds=lambda c: all(a < b for a, b in itertools.pairwise(c.weights)),
            detail=lambda c: f", got {c.weights}",
        ),
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

    @property
    def weights(self) -> list[int]:
        return [step.weight for step in self.steps]


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

    rules = (
        Rule(
            rule=f"has(self.format) || {_ENDS_AS_TABLE}",
            message=INPUT_FORMAT_UNKNOWN,
            holds=lambda i: i.format is not None or _is_table(i.uri),
        ),
    )

    uri: str = Field(
        pattern=MODEL_URI_PATTERN,
        max_length=URI_MAX_LENGTH,
        description=(
            "The input table (one object or file); {date} and {run} name the run. "
            "At most 2048 characters."
        ),
    )
    format: DataFormat | None = Field(
        default=None, description="csv, parquet or jsonl; taken from the extension when absent."
    )


class BatchOutput(ApiModel):
    """Where the predictions go; they appear only once complete."""

    rules = (
        Rule(rule=_ENDS_AS_TABLE, message=OUTPUT_FORMAT_UNKNOWN, holds=lambda o: _is_table(o.uri)),
        Rule(
            rule="self.uri.contains('{date}') || self.uri.contains('{run}')",
            message=OUTPUT_NOT_PER_RUN,
            holds=lambda o: "{date}" in o.uri or "{run}" in o.uri,
        ),
    )

    uri: str = Field(
        pattern=OUTPUT_URI_PATTERN,
        max_length=URI_MAX_LENGTH,
        description="The output table; its extension (.csv, .parquet, .jsonl) picks the format."
        " {date} (the scheduled day) and {run} (the Job's name) give each run its own output."
        " At most 2048 characters.",
    )


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
    batch_size: int = Field(
        default=4096, ge=1, le=INT32_MAX, description="Rows per inference call."
    )
    concurrency: int = Field(
        default=1,
        ge=1,
        le=64,
        description="onnxruntime threads scoring in the job's pod; match the CPU it requests.",
    )
    suspend: bool = Field(default=False, description="Pause the schedule.")
    active_deadline_seconds: int = Field(
        default=21600,
        ge=60,
        le=INT32_MAX,
        description="A run that takes longer is stopped and failed.",
    )
    resources: ResourceRequirements | None = Field(
        default=None, description="CPU and memory of the scoring container."
    )


class DriftAction(StrEnum):
    ALERT = "alert"
    RETRAIN = "retrain"


class DriftMonitoring(ApiModel):
    """Compare what the model sees with its training reference profile."""

    rules = (
        Rule(
            rule="self.action != 'retrain' || has(self.retrainJob)",
            message="drift action retrain needs retrainJob",
            holds=lambda d: d.action != DriftAction.RETRAIN or d.retrain_job is not None,
        ),
    )

    reference: str | None = Field(
        default=None,
        pattern=MODEL_URI_PATTERN,
        max_length=URI_MAX_LENGTH,
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


class MonitoringSpec(ApiModel):
    """What is watched once the model serves."""

    drift: DriftMonitoring | None = Field(default=None, description="Data drift checks.")


def _keda_resource_rule(metric: MetricType, message: str) -> Rule:
    """KEDA's cpu or memory trigger needs that resource requested (or limited) on the Triton
    container, the only container of the pod template it scales."""
    resource, resources = metric.value, "self.serving.resources"
    return Rule(
        rule=(
            f"!has(self.autoscaling) || self.autoscaling.engine != 'keda' || "
            f"!self.autoscaling.metrics.exists(m, m.type == '{resource}') || "
            f"(has({resources}) && ("
            f"(has({resources}.requests) && has({resources}.requests.{resource})) || "
            f"(has({resources}.limits) && has({resources}.limits.{resource}))))"
        ),
        message=message,
        holds=lambda spec: _keda_resource_given(spec, metric),
    )


def _keda_resource_given(spec: ModelDeploymentSpec, metric: MetricType) -> bool:
    if spec.autoscaling is None or not spec.autoscaling.keda_scales_on(metric):
        return True
    resources = spec.serving.resources or ResourceRequirements()
    return metric.value in resources.requests or metric.value in resources.limits


class ModelDeploymentSpec(ApiModel):
    """The desired state of a served model."""

    rules = (
        _keda_resource_rule(MetricType.CPU, KEDA_CPU_REQUEST),
        _keda_resource_rule(MetricType.MEMORY, KEDA_MEMORY_REQUEST),
    )

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
        max_length=32,
        description="Scheduled batch scoring jobs; at most 32.",
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
        resources = self.serving.resources or ResourceRequirements()
        missing = [
            message
            for metric, message in (
                (MetricType.CPU, KEDA_CPU_REQUEST),
                (MetricType.MEMORY, KEDA_MEMORY_REQUEST),
            )
            if self.autoscaling.keda_scales_on(metric)
            and metric.value not in resources.requests
            and metric.value not in resources.limits
        ]
        if missing:
            raise ValueError("; ".join(missing))
        return self


class ModelDeployment(ApiModel):
    """A trained model served on NVIDIA Triton, online and in batch."""

    # The name becomes the stable Service's name and a label value on every child.
    rules = (
        name_rule(DNS_1035_LABEL_PATTERN, NAME_MESSAGE),
        Rule(
            rule=(
                "!has(self.spec.autoscaling) || self.spec.autoscaling.engine != 'keda' || "
                f"size(self.metadata.name) <= {KEDA_NAME_MAX_LENGTH}"
            ),
            message=KEDA_NAME,
            holds=lambda md: (
                md.spec.autoscaling is None
                or md.spec.autoscaling.engine != AutoscalingEngine.KEDA
                or len(md.metadata.name) <= KEDA_NAME_MAX_LENGTH
            ),
        ),
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

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> ModelDeployment:
        return cls.model_validate(manifest)
