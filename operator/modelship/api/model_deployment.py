"""The ModelDeployment kind: a model served on NVIDIA Triton, online and in batch."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from modelship.api.autoscaling import (
    HPA_SCALE_TO_ZERO,
    KEDA_CPU_REQUEST,
    KEDA_MEMORY_REQUEST,
    KEDA_NAME,
    KEDA_NAME_MAX_LENGTH,
    KEDA_SCALE_TO_ZERO_ON_RESOURCES,
    REPLICA_BOUNDS,
    TRITON_METRICS,
    AutoscalingEngine,
    AutoscalingSpec,
    MetricType,
    ScalingMetric,
)
from modelship.api.base import (
    DNS_1035_LABEL_PATTERN,
    ApiModel,
    list_map,
)
from modelship.api.batch import (
    BATCH_GPU_RULE,
    INPUT_FORMAT_UNKNOWN,
    OUTPUT_FORMAT_UNKNOWN,
    OUTPUT_NOT_PER_RUN,
    TABLE_EXTENSIONS,
    BatchInput,
    BatchJob,
    BatchOutput,
    DataFormat,
)
from modelship.api.canary_traffic import (
    GRPC_NEEDS_GATEWAY,
    PARENT_REF_RULES,
    SECTION_NAME_NEEDED,
    SECTION_NAME_UNIQUE,
    CanaryTraffic,
    ParentReference,
    TrafficRouter,
)
from modelship.api.cel import Rule
from modelship.api.common import Lineage as Lineage
from modelship.api.common import (
    ObjectMeta,
    ResourceRequirements,
    name_rule,
)

# The status types, importable from here as well as from their own module (and so are the
# spec parts above, through __all__ below).
from modelship.api.model_deployment_status import BatchJobStatus as BatchJobStatus
from modelship.api.model_deployment_status import CanaryStatus as CanaryStatus
from modelship.api.model_deployment_status import Endpoints as Endpoints
from modelship.api.model_deployment_status import HistoryEntry as HistoryEntry
from modelship.api.model_deployment_status import ModelDeploymentStatus as ModelDeploymentStatus
from modelship.api.model_deployment_status import RevisionOutcome as RevisionOutcome
from modelship.api.model_deployment_status import RevisionStatus as RevisionStatus
from modelship.api.model_source import (
    MODEL_VERSION_PATTERN,
    ModelFormat,
    ModelSource,
)
from modelship.api.monitoring import (
    MIRROR_OR_TRACING,
    REFERENCE_NOT_SUPPORTED,
    DriftAction,
    DriftMonitoring,
    MonitoringSpec,
)
from modelship.api.rollout import (
    CanaryAnalysis,
    CanarySpec,
    CanaryStep,
    MetricsProvider,
    MetricsProviderType,
    RolloutSpec,
    RolloutStrategy,
)
from modelship.api.serving import (
    DEFAULT_TRITON_IMAGE,
    DynamicBatching,
    ServingSpec,
)

KIND = "ModelDeployment"
PLURAL = "modeldeployments"

NAME_MESSAGE = (
    "metadata.name must be a DNS-1035 label: at most 63 lower case letters, digits "
    "and '-', starting with a letter (it names the stable Service)"
)


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


MIRROR_NEEDS_ROUTE = (
    "drift.mirrorPercent needs the Gateway API routes it mirrors from: set rollout.strategy"
    " Canary with rollout.canary.traffic.router gatewayAPI"
)


def _routed_by_gateway(spec: ModelDeploymentSpec) -> bool:
    """Whether the operator writes an HTTPRoute (and GRPCRoute) for the deployment."""
    canary = spec.rollout.canary or CanarySpec()
    return (
        spec.rollout.strategy == RolloutStrategy.CANARY
        and canary.traffic.router == TrafficRouter.GATEWAY_API
    )


# Mirrored live drift rides on the routes, which exist only for a Gateway API canary.
MIRROR_ROUTE_RULE = Rule(
    rule=(
        "!has(self.monitoring) || !has(self.monitoring.drift) || "
        "!has(self.monitoring.drift.mirrorPercent) || "
        "(self.rollout.strategy == 'Canary' && has(self.rollout.canary) && "
        "self.rollout.canary.traffic.router == 'gatewayAPI')"
    ),
    message=MIRROR_NEEDS_ROUTE,
    holds=lambda spec: (
        spec.monitoring is None
        or spec.monitoring.drift is None
        or spec.monitoring.drift.mirror_percent is None
        or _routed_by_gateway(spec)
    ),
)


class ModelDeploymentSpec(ApiModel):
    """The desired state of a served model."""

    rules = (
        _keda_resource_rule(MetricType.CPU, KEDA_CPU_REQUEST),
        _keda_resource_rule(MetricType.MEMORY, KEDA_MEMORY_REQUEST),
        BATCH_GPU_RULE,
        MIRROR_ROUTE_RULE,
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


__all__ = [
    "DEFAULT_TRITON_IMAGE",
    "GRPC_NEEDS_GATEWAY",
    "HPA_SCALE_TO_ZERO",
    "INPUT_FORMAT_UNKNOWN",
    "KEDA_CPU_REQUEST",
    "KEDA_MEMORY_REQUEST",
    "KEDA_NAME",
    "KEDA_NAME_MAX_LENGTH",
    "KEDA_SCALE_TO_ZERO_ON_RESOURCES",
    "KIND",
    "MIRROR_NEEDS_ROUTE",
    "MIRROR_OR_TRACING",
    "MODEL_VERSION_PATTERN",
    "NAME_MESSAGE",
    "OUTPUT_FORMAT_UNKNOWN",
    "OUTPUT_NOT_PER_RUN",
    "PARENT_REF_RULES",
    "PLURAL",
    "REFERENCE_NOT_SUPPORTED",
    "REPLICA_BOUNDS",
    "SECTION_NAME_NEEDED",
    "SECTION_NAME_UNIQUE",
    "TABLE_EXTENSIONS",
    "TRITON_METRICS",
    "AutoscalingEngine",
    "AutoscalingSpec",
    "BatchInput",
    "BatchJob",
    "BatchOutput",
    "CanaryAnalysis",
    "CanarySpec",
    "CanaryStep",
    "CanaryTraffic",
    "DataFormat",
    "DriftAction",
    "DriftMonitoring",
    "DynamicBatching",
    "MetricType",
    "MetricsProvider",
    "MetricsProviderType",
    "ModelDeployment",
    "ModelDeploymentSpec",
    "ModelFormat",
    "ModelSource",
    "MonitoringSpec",
    "ParentReference",
    "RolloutSpec",
    "RolloutStrategy",
    "ScalingMetric",
    "ServingSpec",
    "TrafficRouter",
]
