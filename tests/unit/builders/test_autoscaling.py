"""Autoscalers of the stable revision, compared whole: HPA (autoscaling/v2) and KEDA ScaledObject.

Proves: cpu and memory become Resource/Utilization metrics (HPA) or
cpu/memory triggers (KEDA); Triton's queue time, request rate and GPU
utilisation become Pods metrics named as the documented prometheus-adapter
rules expose them (HPA), or Prometheus triggers with PromQL scoped to the
revision's pods and the model (KEDA); both target the stable Deployment.
ScaledObject is a custom resource kubernetes-validate cannot check, so its
shape is also checked against the part of KEDA's v1alpha1 schema it uses.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from modelship.builders import build_model_deployment_children, steady_plan
from support.custom_resources import controller_reference
from support.edge_specs import ALL_METRICS
from support.resolved_models import fraud_model

REV = "fraud-1b64e32ff5"
META = {
    "name": "fraud",
    "namespace": "ml",
    "labels": {
        "app.kubernetes.io/name": "triton",
        "app.kubernetes.io/instance": "fraud",
        "app.kubernetes.io/component": "autoscaler",
        "app.kubernetes.io/managed-by": "modelship",
        "modelship.dev/deployment": "fraud",
    },
    "ownerReferences": [controller_reference()],
}
TARGET = {"apiVersion": "apps/v1", "kind": "Deployment", "name": REV}
PROMETHEUS = "http://prometheus.monitoring.svc:9090"
PODS = 'namespace="ml",pod=~"fraud-1b64e32ff5-.*"'
MODEL = f'{PODS},model="fraud"'

# The part of KEDA's ScaledObject (keda.sh/v1alpha1) schema the builder writes, strict.
SCALED_OBJECT_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["scaleTargetRef", "triggers"],
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name"],
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "name": {"type": "string"},
                        "envSourceContainerName": {"type": "string"},
                    },
                },
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "pollingInterval": {"type": "integer"},
                "cooldownPeriod": {"type": "integer"},
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["type", "metadata"],
                        "properties": {
                            "type": {"type": "string"},
                            "name": {"type": "string"},
                            "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                            "useCachedMetrics": {"type": "boolean"},
                            "metadata": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                            },
                            "authenticationRef": {"type": "object"},
                        },
                    },
                },
            },
        },
    },
}


def scaler(api_version: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The autoscaler expected to scale the stable revision, with the rest of its spec."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": META,
        "spec": {"scaleTargetRef": TARGET, **spec},
    }


def hpa(min_replicas: int, max_replicas: int, metrics: list[Any]) -> dict[str, Any]:
    spec = {"minReplicas": min_replicas, "maxReplicas": max_replicas, "metrics": metrics}
    return scaler("autoscaling/v2", "HorizontalPodAutoscaler", spec)


def scaled_object(min_count: int, max_count: int, triggers: list[Any]) -> dict[str, Any]:
    spec = {"minReplicaCount": min_count, "maxReplicaCount": max_count, "triggers": triggers}
    return scaler("keda.sh/v1alpha1", "ScaledObject", spec)


CASES = [
    pytest.param(
        {"minReplicas": 2, "maxReplicas": 6},
        hpa(
            2,
            6,
            [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 80},
                    },
                }
            ],
        ),
        id="hpa-default-cpu",
    ),
    pytest.param(
        {"engine": "hpa", "maxReplicas": 10, "metrics": ALL_METRICS},
        hpa(
            1,
            10,
            [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                },
                {
                    "type": "Resource",
                    "resource": {
                        "name": "memory",
                        "target": {"type": "Utilization", "averageUtilization": 80},
                    },
                },
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": "nv_gpu_utilization"},
                        "target": {"type": "AverageValue", "averageValue": "75"},
                    },
                },
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": "nv_inference_queue_duration_us"},
                        "target": {"type": "AverageValue", "averageValue": "2000"},
                    },
                },
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": "nv_inference_request_success"},
                        "target": {"type": "AverageValue", "averageValue": "200"},
                    },
                },
            ],
        ),
        id="hpa-every-metric",
    ),
    pytest.param(
        {"engine": "keda", "maxReplicas": 10, "prometheusUrl": PROMETHEUS, "metrics": ALL_METRICS},
        scaled_object(
            1,
            10,
            [
                {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "70"}},
                {"type": "memory", "metricType": "Utilization", "metadata": {"value": "80"}},
                {
                    "type": "prometheus",
                    "metricType": "Value",
                    "metadata": {
                        "serverAddress": PROMETHEUS,
                        "query": f"avg(nv_gpu_utilization{{{PODS}}}) * 100",
                        "threshold": "75",
                    },
                },
                {
                    "type": "prometheus",
                    "metricType": "Value",
                    "metadata": {
                        "serverAddress": PROMETHEUS,
                        "query": f"sum(rate(nv_inference_queue_duration_us{{{MODEL}}}[1m]))"
                        f" / clamp_min(sum(rate(nv_inference_request_success{{{MODEL}}}"
                        "[1m])), 1)",
                        "threshold": "2000",
                    },
                },
                {
                    "type": "prometheus",
                    "metricType": "AverageValue",
                    "metadata": {
                        "serverAddress": PROMETHEUS,
                        "query": f"sum(rate(nv_inference_request_success{{{MODEL}}}[1m]))",
                        "threshold": "200",
                    },
                },
            ],
        ),
        id="keda-every-metric",
    ),
    # KEDA refuses scale to zero on cpu alone, so the API does: minReplicas 1.
    pytest.param(
        {"engine": "keda", "minReplicas": 1, "maxReplicas": 3},
        scaled_object(
            1,
            3,
            [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "80"}}],
        ),
        id="keda-cpu-without-prometheus",
    ),
]


@pytest.mark.parametrize(("autoscaling", "expected"), CASES)
def test_autoscaler(autoscaling: dict[str, Any], expected: Any, make_deployment: Any) -> None:
    # KEDA's cpu and memory triggers need the Triton container to request them.
    requests = {"requests": {"cpu": "1", "memory": "1Gi"}}
    md = make_deployment({"autoscaling": autoscaling, "serving": {"resources": requests}})
    children = build_model_deployment_children(md, steady_plan(md, fraud_model()))
    autoscalers = [c for c in children if c["kind"] in ("HorizontalPodAutoscaler", "ScaledObject")]
    assert autoscalers == [expected]
    if expected["kind"] == "ScaledObject":
        jsonschema.validate(autoscalers[0], SCALED_OBJECT_SCHEMA)
