"""Specs at the edges of the API, for the conformance tests to render and check.

Each is a whole ModelDeployment or RetrainJob document, as a user would apply it:
names at their longest, every autoscaling metric with each engine, KEDA on Triton
metrics, scale to zero, canaries through the Gateway API with many parents, batch
jobs, GPUs and MIG slices. Some our API must refuse (KEDA or the Gateway API would);
they are here so that the tests prove it does.
"""

from __future__ import annotations

from typing import Any

from support.custom_resources import model_deployment_body, retrain_job_body

Document = dict[str, Any]

NAMESPACE = "ml"
NAME_63 = "m" + "x" * 61 + "z"  # the longest DNS-1035 label
PROMETHEUS = "http://prometheus-operated.monitoring.svc:9090"
REQUESTS = {"requests": {"cpu": "2", "memory": "4Gi"}}
ALL_METRICS = [
    {"type": "cpu", "target": 70},
    {"type": "memory", "target": 80},
    {"type": "gpuUtilization", "target": 75},
    {"type": "queueTimeMicroseconds", "target": 2000},
    {"type": "requestsPerSecond", "target": 200},
]


def model_deployment(name: str = "edge", **spec: Any) -> Document:
    return model_deployment_body(name, NAMESPACE, model="edge", **spec)


def retrain_job(name: str = "edge-retrain", **spec: Any) -> Document:
    image = "registry.example.com/trainer:1"
    return retrain_job_body(name, NAMESPACE, model_deployment="edge", image=image, **spec)


def keda(*metrics: dict[str, Any], min_replicas: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "engine": "keda",
        "minReplicas": min_replicas,
        "maxReplicas": 8,
        "metrics": list(metrics),
        **extra,
    }


CPU_60 = {"type": "cpu", "target": 60}


def keda_named(length: int) -> Document:
    """Scaled by KEDA on cpu, named with ``length`` characters (KEDA's HPA adds keda-hpa-)."""
    return model_deployment(
        "k" * (length - 1) + "a", serving={"resources": REQUESTS}, autoscaling=keda(CPU_60)
    )


def gateway_canary(parent_refs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "strategy": "Canary",
        "canary": {
            "steps": [{"weight": w} for w in range(5, 101, 5)],  # 20 steps, the most allowed
            "traffic": {"router": "gatewayAPI", "parentRefs": parent_refs},
        },
    }


def gateway_https_and_grpc(grpc_ref: dict[str, Any]) -> dict[str, Any]:
    """A canary, default steps, through the `public` Gateway's https listener and
    ``grpc_ref`` for gRPC."""
    parent_refs = [{"name": "public", "sectionName": "https"}]
    traffic = {"router": "gatewayAPI", "parentRefs": parent_refs, "grpcParentRefs": [grpc_ref]}
    return {"strategy": "Canary", "canary": {"traffic": traffic}}


BATCH = {
    "schedule": "0 2 * * *",
    "input": {"uri": "s3://data/edge/{date}.parquet"},
    "output": {"uri": "s3://scores/edge/{date}.parquet"},
}

EDGE_SPECS: dict[str, Document] = {
    "longest-name": model_deployment(NAME_63, serving={"resources": REQUESTS}),
    "hpa-every-metric": model_deployment(
        serving={"resources": REQUESTS, "gpu": {"count": 1}},
        autoscaling={"engine": "hpa", "minReplicas": 1, "maxReplicas": 100, "metrics": ALL_METRICS},
    ),
    "hpa-longest-name": model_deployment(
        NAME_63,
        serving={"resources": REQUESTS},
        autoscaling={"maxReplicas": 4, "metrics": [{"type": "cpu", "target": 70}]},
    ),
    "keda-every-metric": model_deployment(
        serving={"resources": REQUESTS, "gpu": {"count": 1}},
        autoscaling=keda(*ALL_METRICS, prometheusUrl=PROMETHEUS),
    ),
    "keda-triton-metrics-scale-to-zero": model_deployment(
        serving={"gpu": {"count": 1}},
        autoscaling=keda(
            {"type": "requestsPerSecond", "target": 50},
            {"type": "queueTimeMicroseconds", "target": 500},
            {"type": "gpuUtilization", "target": 80},
            min_replicas=0,
            prometheusUrl=PROMETHEUS,
        ),
    ),
    "keda-cpu-memory-with-requests": model_deployment(
        serving={"resources": REQUESTS},
        autoscaling=keda(CPU_60, {"type": "memory", "target": 70}),
    ),
    "keda-cpu-limit-only": model_deployment(
        serving={"resources": {"limits": {"cpu": "2"}}},
        autoscaling=keda(CPU_60),
    ),
    "keda-name-54": keda_named(54),
    # KEDA refuses these three; our API must refuse them first.
    "keda-cpu-without-request": model_deployment(
        autoscaling=keda(CPU_60),
    ),
    "keda-memory-without-request": model_deployment(
        serving={"resources": {"requests": {"cpu": "1"}}},
        autoscaling=keda({"type": "memory", "target": 60}),
    ),
    "keda-name-55": keda_named(55),
    "keda-scale-to-zero-cpu-only": model_deployment(
        serving={"resources": REQUESTS},
        autoscaling=keda(CPU_60, min_replicas=0),
    ),
    "gateway-32-parents": model_deployment(
        serving={"replicas": 2},
        rollout=gateway_canary(
            [{"name": f"gw-{i}", "namespace": f"ns-{i}", "sectionName": "https"} for i in range(32)]
        ),
    ),
    "gateway-one-gateway-two-listeners": model_deployment(
        rollout=gateway_canary(
            [{"name": "public", "sectionName": "https"}, {"name": "public", "sectionName": "http"}]
        ),
    ),
    "gateway-longest-names": model_deployment(
        NAME_63,
        rollout=gateway_canary(
            [{"name": "g" * 253, "namespace": "n" * 63, "sectionName": "s" * 253}]
        ),
    ),
    "gateway-grpc-listener": model_deployment(
        rollout=gateway_https_and_grpc({"name": "public", "sectionName": "grpc", "port": 8443}),
    ),
    # Live traffic mirrored to drift-watch on both routes, names at their longest (the
    # drift-watch Deployment and Service's name is cut to 63 with a hash).
    "gateway-mirrored-drift": model_deployment(
        NAME_63,
        rollout=gateway_https_and_grpc({"name": "public", "sectionName": "grpc"}),
        monitoring={"drift": {"mirrorPercent": 100, "window": "1h"}},
    ),
    # The Gateway API CRD refuses these two; our API must refuse them first.
    "gateway-duplicate-parents": model_deployment(
        rollout=gateway_canary([{"name": "public"}, {"name": "public"}]),
    ),
    "gateway-section-name-not-dns": model_deployment(
        rollout=gateway_canary([{"name": "public", "sectionName": "HTTPS_443"}]),
    ),
    "canary-replicas-router": model_deployment(
        serving={"replicas": 4},
        rollout={"strategy": "Canary", "canary": {"traffic": {"router": "replicas"}}},
    ),
    "batch-many-long-names": model_deployment(
        NAME_63,
        batch=[{"name": f"{'b' * 38}{i:02d}", **BATCH} for i in range(8)],
    ),
    "batch-pvc-and-resources": model_deployment(
        batch=[
            {
                "name": "pvc",
                "schedule": "@hourly",
                "input": {"uri": "pvc://exports/in.csv"},
                "output": {"uri": "pvc://scores/{run}.jsonl"},
                "resources": REQUESTS,
                "concurrency": 64,
            }
        ],
    ),
    "gpu-eight-of-a-product": model_deployment(
        serving={
            "resources": REQUESTS,
            "gpu": {"count": 8, "product": "NVIDIA-H100-80GB-HBM3"},
            "instanceCount": 64,
        },
    ),
    "mig-slice": model_deployment(
        serving={"gpu": {"count": 1, "product": "NVIDIA-A100-SXM4-40GB", "migProfile": "1g.5gb"}},
    ),
    "mig-with-keda-on-gpu": model_deployment(
        serving={"gpu": {"count": 2, "migProfile": "3g.40gb"}},
        autoscaling=keda({"type": "gpuUtilization", "target": 70}, prometheusUrl=PROMETHEUS),
    ),
    "retrainjob-longest-name": retrain_job("r" * 62 + "z", schedule="0 3 * * 1"),
    "retrainjob-gpu-once": retrain_job(
        template={
            "image": "registry.example.com/trainer:1",
            "gpu": {"count": 1, "migProfile": "1g.10gb"},
        }
    ),
}
