"""KEDA ScaledObject (keda.sh/v1alpha1) of the stable revision.

Triton's signals become Prometheus triggers whose PromQL reads the metrics
Triton exports on port 8002, scoped to the revision's pods (the usual
`kubernetes-pods` scrape job's `namespace` and `pod` labels) and the model.
"""

from __future__ import annotations

from typing import Any

from modelship.api.model_deployment import (
    TRITON_METRICS,
    AutoscalingSpec,
    MetricType,
    ModelDeployment,
)
from modelship.builders import defaults
from modelship.builders.deployment_wide import autoscaler
from modelship.builders.revision import Revision

KEDA_KIND = ("keda.sh/v1alpha1", "ScaledObject")


def build_scaled_object(
    md: ModelDeployment, autoscaling: AutoscalingSpec, stable: Revision
) -> dict[str, Any]:
    """`<deployment>`: KEDA scales the stable revision's Deployment (through its own HPA)."""
    triggers = [
        _trigger(md.metadata.namespace, stable, autoscaling, m.type, m.target)
        for m in autoscaling.metrics
    ]
    bounds = ("minReplicaCount", "maxReplicaCount")
    return autoscaler(md, autoscaling, stable, KEDA_KIND, bounds, {"triggers": triggers})


def _trigger(
    namespace: str,
    stable: Revision,
    autoscaling: AutoscalingSpec,
    kind: MetricType,
    target: int,
) -> dict[str, Any]:
    if kind not in TRITON_METRICS:
        return {"type": kind.value, "metricType": "Utilization", "metadata": {"value": str(target)}}
    query, metric_type = triton_query(namespace, stable, kind)
    return {
        "type": "prometheus",
        "metricType": metric_type,
        "metadata": {
            # The API refuses KEDA on Triton metrics without prometheusUrl.
            "serverAddress": autoscaling.prometheus_url or "",
            "query": query,
            "threshold": str(target),
        },
    }


def triton_query(namespace: str, stable: Revision, kind: MetricType) -> tuple[str, str]:
    """PromQL for one of Triton's signals and the KEDA metricType its threshold means.

    Value: the query already is a per-request or per-GPU figure, compared as is.
    AverageValue: a total that KEDA divides by the pod count.
    """
    pods = f'namespace="{namespace}",pod=~"{stable.name}-.*"'
    model = f'{pods},model="{stable.model.name}"'
    window = defaults.RATE_WINDOW
    if kind == MetricType.QUEUE_TIME_MICROSECONDS:
        return (
            f"sum(rate(nv_inference_queue_duration_us{{{model}}}[{window}]))"
            f" / clamp_min(sum(rate(nv_inference_request_success{{{model}}}[{window}])), 1)",
            "Value",
        )
    if kind == MetricType.REQUESTS_PER_SECOND:
        return f"sum(rate(nv_inference_request_success{{{model}}}[{window}]))", "AverageValue"
    return f"avg(nv_gpu_utilization{{{pods}}}) * 100", "Value"
