"""Autoscaling of the stable revision: a HorizontalPodAutoscaler or a KEDA ScaledObject."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from modelship.api.base import (
    ApiModel,
    HttpUrl,
    NonNegativeInt32,
    PositiveInt32,
)
from modelship.api.cel import Rule


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
    target: PositiveInt32 = Field(
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

    min_replicas: NonNegativeInt32 = Field(default=1, description="Fewest pods.")
    max_replicas: PositiveInt32 = Field(description="Most pods.")
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
    prometheus_url: HttpUrl | None = Field(
        default=None,
        description="Prometheus that scrapes Triton, queried by KEDA for Triton metrics.",
    )

    @property
    def wants_triton_metrics(self) -> bool:
        return any(m.type in TRITON_METRICS for m in self.metrics)

    def keda_scales_on(self, metric: MetricType) -> bool:
        """Whether KEDA scales on ``metric`` (cpu or memory need a request to do so)."""
        return self.engine == AutoscalingEngine.KEDA and any(m.type == metric for m in self.metrics)
