"""HorizontalPodAutoscaler (autoscaling/v2) of the stable revision.

cpu and memory are Resource metrics. Triton's signals are Pods metrics served
by the custom metrics API, which assumes prometheus-adapter rules such as:

    - seriesQuery: 'nv_inference_queue_duration_us{namespace!="",pod!=""}'
      resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}}}
      name: {as: "nv_inference_queue_duration_us"}
      metricsQuery: >-
        sum(rate(nv_inference_queue_duration_us{<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>)
        / clamp_min(sum(rate(nv_inference_request_success{<<.LabelMatchers>>}[1m]))
        by (<<.GroupBy>>), 1)
    - seriesQuery: 'nv_inference_request_success{namespace!="",pod!=""}'
      name: {as: "nv_inference_request_success"}
      metricsQuery: sum(rate(<<.Series>>{<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>)
    - seriesQuery: 'nv_gpu_utilization{namespace!="",pod!=""}'
      name: {as: "nv_gpu_utilization"}
      metricsQuery: avg(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>) * 100

so that each pod reports its mean queue time per request (microseconds),
its requests per second, and its GPU utilisation in percent.
"""

from __future__ import annotations

from typing import Any

from modelship.api.model_deployment import (
    TRITON_METRICS,
    AutoscalingSpec,
    MetricType,
    ModelDeployment,
)
from modelship.builders.deployment_wide import autoscaler
from modelship.builders.revision import Revision

HPA_KIND = ("autoscaling/v2", "HorizontalPodAutoscaler")
# Custom metric names (as prometheus-adapter exposes them) of Triton's signals.
TRITON_POD_METRICS = {
    MetricType.QUEUE_TIME_MICROSECONDS: "nv_inference_queue_duration_us",
    MetricType.REQUESTS_PER_SECOND: "nv_inference_request_success",
    MetricType.GPU_UTILIZATION: "nv_gpu_utilization",
}


def build_hpa(
    md: ModelDeployment, autoscaling: AutoscalingSpec, stable: Revision
) -> dict[str, Any]:
    """`<deployment>`: scales the stable revision's Deployment."""
    metrics = [_metric(m.type, m.target) for m in autoscaling.metrics]
    return autoscaler(
        md, autoscaling, stable, HPA_KIND, ("minReplicas", "maxReplicas"), {"metrics": metrics}
    )


def _metric(kind: MetricType, target: int) -> dict[str, Any]:
    if kind not in TRITON_METRICS:
        return {
            "type": "Resource",
            "resource": {
                "name": kind.value,
                "target": {"type": "Utilization", "averageUtilization": target},
            },
        }
    return {
        "type": "Pods",
        "pods": {
            "metric": {"name": TRITON_POD_METRICS[kind]},
            "target": {"type": "AverageValue", "averageValue": str(target)},
        },
    }
