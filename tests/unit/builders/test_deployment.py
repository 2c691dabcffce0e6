"""The Triton Deployment of a revision, compared whole, for CPU, GPU and MIG serving.

Proves: ports, probes, the fetch and configure init containers, restricted
security contexts, labels, ownerReference; the trace flags, memory volume and drift-watch
sidecar of spec.monitoring.drift; GPU limits, MIG resources, the product node selector
and the default GPU toleration merged with the user's scheduling; replicas left to the
autoscaler; and pvc:// models mounted read-only and copied by the fetch container.
"""

from __future__ import annotations

from typing import Any

import pytest
from modelship.api.model_deployment import ModelFormat, ModelSource
from modelship.builders import ResolvedModel, RevisionPlan, revision_for, steady_plan
from modelship.builders.deployment import build_deployment
from modelship.builders.pod import fetch_container, model_volumes
from support.custom_resources import controller_reference
from support.model_pods import (
    HOME,
    IMAGE,
    MODEL_MOUNT,
    MODEL_READER_MOUNTS,
    MODEL_VOLUMES,
    TMP_MOUNT,
    drift_watch_args,
    fetch_init_container,
)
from support.resolved_models import fraud_model
from support.restricted_pods import RESTRICTED_CONTAINER, RESTRICTED_POD

REV = "fraud-1b64e32ff5"


def probe(path: str, port: str, period_seconds: int, failure_threshold: int) -> dict[str, Any]:
    """An HTTP GET probe of ``path`` on the named ``port``."""
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period_seconds,
        "failureThreshold": failure_threshold,
    }


SECURE = RESTRICTED_CONTAINER
SELECTOR = {
    "app.kubernetes.io/instance": "fraud",
    "app.kubernetes.io/component": "server",
    "modelship.dev/deployment": "fraud",
    "modelship.dev/revision": REV,
}
LABELS = {
    "app.kubernetes.io/name": "triton",
    "app.kubernetes.io/instance": "fraud",
    "app.kubernetes.io/component": "server",
    "app.kubernetes.io/managed-by": "modelship",
    "modelship.dev/deployment": "fraud",
    "modelship.dev/revision": REV,
    "modelship.dev/model-version": "3",
}
POD = ("spec", "template", "spec")
CONFIGURE_ARGS = (*POD, "initContainers", 1, "args")
TRITON = (*POD, "containers", 0)


def configure_args(instances: int, kind: str) -> list[str]:
    """The configure init container's args for model fraud, before any batching flags."""
    return [
        "configure",
        "--repository",
        "/models",
        "--model",
        "fraud",
        "--instance-count",
        str(instances),
        "--instance-kind",
        kind,
    ]


CPU_DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": REV,
        "namespace": "ml",
        "labels": LABELS,
        "annotations": {"modelship.dev/model-uri": "s3://models/fraud/3"},
        "ownerReferences": [controller_reference()],
    },
    "spec": {
        "replicas": 1,
        "revisionHistoryLimit": 3,
        "selector": {"matchLabels": SELECTOR},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
        },
        "template": {
            "metadata": {
                "labels": LABELS,
                "annotations": {
                    "modelship.dev/model-uri": "s3://models/fraud/3",
                    "prometheus.io/scrape": "true",
                    "prometheus.io/port": "8002",
                    "prometheus.io/path": "/metrics",
                },
            },
            "spec": {
                "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                "securityContext": RESTRICTED_POD,
                "initContainers": [
                    fetch_init_container("s3://models/fraud/3"),
                    {
                        "name": "configure",
                        "image": IMAGE,
                        "command": ["modelship"],
                        "args": configure_args(1, "KIND_CPU"),
                        "env": [HOME],
                        "terminationMessagePolicy": "FallbackToLogsOnError",
                        "volumeMounts": [MODEL_MOUNT, TMP_MOUNT],
                        "securityContext": SECURE,
                    },
                ],
                "containers": [
                    {
                        "name": "triton",
                        "image": IMAGE,
                        "command": ["tritonserver"],
                        "args": [
                            "--model-repository=/models",
                            "--http-port=8000",
                            "--grpc-port=8001",
                            "--metrics-port=8002",
                            "--metrics-config=summary_latencies=true",
                        ],
                        "ports": [
                            {"name": "http", "containerPort": 8000, "protocol": "TCP"},
                            {"name": "grpc", "containerPort": 8001, "protocol": "TCP"},
                            {"name": "metrics", "containerPort": 8002, "protocol": "TCP"},
                        ],
                        "startupProbe": probe("/v2/health/ready", "http", 10, 60),
                        "readinessProbe": probe("/v2/health/ready", "http", 5, 3),
                        "livenessProbe": probe("/v2/health/live", "http", 10, 3),
                        "volumeMounts": [
                            *MODEL_READER_MOUNTS,
                            {"name": "dshm", "mountPath": "/dev/shm"},
                        ],
                        "securityContext": SECURE,
                    }
                ],
                "volumes": [
                    *MODEL_VOLUMES,
                    # Triton's python backend needs more than the default 64 MiB /dev/shm.
                    {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}},
                ],
                "topologySpreadConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": "kubernetes.io/hostname",
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": {"matchLabels": SELECTOR},
                    }
                ],
            },
        },
    },
}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
GPU_STRATEGY = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
AFFINITY = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
            ]
        }
    }
}
CONFIGURE_GPU = configure_args(1, "KIND_GPU")
CPU_POD = CPU_DEPLOYMENT["spec"]["template"]["spec"]
TRACE_MOUNT = {"name": "drift-traces", "mountPath": "/var/run/modelship/traces"}
# spec.monitoring.drift: Triton traces one request in 20 to a memory volume; the sidecar
# reads, deletes and counts them and serves the metrics, under the restricted profile.
WATCHED_TRITON = {
    **CPU_POD["containers"][0],
    "args": [
        *CPU_POD["containers"][0]["args"],
        "--trace-config=triton,file=/var/run/modelship/traces/trace.json",
        "--trace-config=triton,log-frequency=20",
        "--trace-config=level=TENSORS",
        "--trace-config=rate=20",
        "--trace-config=count=1000",
    ],
    "volumeMounts": [*CPU_POD["containers"][0]["volumeMounts"], TRACE_MOUNT],
}
DRIFT_WATCH = {
    "name": "drift-watch",
    "image": IMAGE,
    "command": ["modelship"],
    "args": [
        *drift_watch_args(REV, "6h", "0.25"),
        "--trace-file",
        "/var/run/modelship/traces/trace.json",
        "--metrics-port",
        "8003",
        "--triton-http",
        "127.0.0.1:8000",
        "--trace-budget",
        "1000",
    ],
    "env": [HOME],
    "ports": [{"name": "drift-metrics", "containerPort": 8003, "protocol": "TCP"}],
    "livenessProbe": probe("/metrics", "drift-metrics", 10, 3),
    "resources": {
        "requests": {"cpu": "50m", "memory": "192Mi"},
        "limits": {"cpu": "500m", "memory": "512Mi"},
    },
    "volumeMounts": [*MODEL_READER_MOUNTS, TRACE_MOUNT],
    "securityContext": SECURE,
}
TRACE_VOLUME = {"name": "drift-traces", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}

CASES = [
    pytest.param({}, {}, id="cpu-defaults"),
    pytest.param(
        {
            "serving": {
                "replicas": 3,
                "image": "triton:24.10",
                "resources": {"requests": {"cpu": "2", "memory": "8Gi"}},
                "gpu": {"count": 2, "product": "NVIDIA-H100-80GB-HBM3"},
                "nodeSelector": {"pool": "inference"},
                "tolerations": [
                    {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}
                ],
                "affinity": AFFINITY,
                "dynamicBatching": {
                    "maxQueueDelayMicroseconds": 500,
                    "preferredBatchSizes": [8, 16],
                },
                "instanceCount": 2,
                "args": ["--log-verbose=1"],
            }
        },
        {
            ("spec", "replicas"): 3,
            ("spec", "strategy"): GPU_STRATEGY,
            (*POD, "initContainers", 0, "image"): "triton:24.10",
            (*POD, "initContainers", 1, "image"): "triton:24.10",
            (*TRITON, "image"): "triton:24.10",
            CONFIGURE_ARGS: [
                *configure_args(2, "KIND_GPU"),
                "--max-queue-delay-microseconds",
                "500",
                "--preferred-batch-size",
                "8",
                "--preferred-batch-size",
                "16",
            ],
            (*TRITON, "args"): [
                "--model-repository=/models",
                "--http-port=8000",
                "--grpc-port=8001",
                "--metrics-port=8002",
                "--metrics-config=summary_latencies=true",
                "--log-verbose=1",
            ],
            (*TRITON, "resources"): {
                "requests": {"cpu": "2", "memory": "8Gi"},
                "limits": {"nvidia.com/gpu": 2},
            },
            (*POD, "nodeSelector"): {
                "pool": "inference",
                "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3",
            },
            (*POD, "tolerations"): [
                {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"},
                GPU_TOLERATION,
            ],
            (*POD, "affinity"): AFFINITY,
        },
        id="gpu-product-scheduling-batching",
    ),
    pytest.param(
        {
            "serving": {
                "gpu": {"count": 1, "migProfile": "1g.10gb"},
                "resources": {"limits": {"memory": "4Gi"}},
            }
        },
        {
            CONFIGURE_ARGS: CONFIGURE_GPU,
            (*TRITON, "resources"): {"limits": {"memory": "4Gi", "nvidia.com/mig-1g.10gb": 1}},
            (*POD, "tolerations"): [GPU_TOLERATION],
        },
        id="mig-profile",
    ),
    pytest.param(
        {
            "serving": {
                "gpu": {"count": 1},
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}],
            }
        },
        {
            CONFIGURE_ARGS: CONFIGURE_GPU,
            (*TRITON, "resources"): {"limits": {"nvidia.com/gpu": 1}},
            (*POD, "tolerations"): [{"key": "nvidia.com/gpu", "operator": "Exists"}],
        },
        id="user-gpu-toleration-kept-not-doubled",
    ),
    pytest.param(
        {"serving": {"gpu": {}, "nodeSelector": {"nvidia.com/gpu.product": "L4"}}},
        {(*POD, "nodeSelector"): {"nvidia.com/gpu.product": "L4"}},
        id="empty-gpu-spec-is-cpu",
    ),
    pytest.param(
        {"monitoring": {"drift": {"window": "6h", "threshold": 0.25, "sampleEvery": 20}}},
        {
            (*POD, "containers"): [WATCHED_TRITON, DRIFT_WATCH],
            (*POD, "volumes"): [*CPU_POD["volumes"], TRACE_VOLUME],
        },
        id="live-drift-sidecar",
    ),
    pytest.param(
        {"monitoring": {"drift": {"window": "6h"}}},
        {},
        id="drift-without-sampling-leaves-the-pod-alone",
    ),
]


@pytest.mark.parametrize(("spec", "edits"), CASES)
def test_deployment(spec: dict[str, Any], edits: Any, make_deployment: Any, edit: Any) -> None:
    md = make_deployment(spec)
    plan = steady_plan(md, fraud_model())
    assert build_deployment(md, plan.stable) == edit(CPU_DEPLOYMENT, edits)


def test_autoscaled_revision_leaves_replicas_to_the_autoscaler(
    make_deployment: Any, edit: Any
) -> None:
    md = make_deployment({"autoscaling": {"minReplicas": 2, "maxReplicas": 5}})
    plan = steady_plan(md, fraud_model())
    assert plan.stable.replicas is None
    assert build_deployment(md, plan.stable) == edit(CPU_DEPLOYMENT, {("spec", "replicas"): None})


def test_canary_revision_gets_the_planned_replicas(make_deployment: Any, edit: Any) -> None:
    md = make_deployment({})
    live = RevisionPlan(revision_for(md, fraud_model()), replicas=2, weight=10)
    assert build_deployment(md, live) == edit(CPU_DEPLOYMENT, {("spec", "replicas"): 2})


SURGE = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


@pytest.mark.parametrize(
    ("spec", "strategy"),
    [
        pytest.param({"serving": {"gpu": {"count": 1}}}, SURGE, id="gpu-one-pod-surges"),
        pytest.param(
            {"serving": {"gpu": {"count": 1}, "replicas": 2}}, GPU_STRATEGY, id="gpu-two-pods"
        ),
        pytest.param(
            {"serving": {"gpu": {"count": 1}}, "autoscaling": {"minReplicas": 1, "maxReplicas": 4}},
            SURGE,
            id="gpu-autoscaled-down-to-one-surges",
        ),
        pytest.param(
            {"serving": {"gpu": {"count": 1}}, "autoscaling": {"minReplicas": 2, "maxReplicas": 4}},
            GPU_STRATEGY,
            id="gpu-autoscaled-never-below-two",
        ),
        pytest.param({"serving": {"replicas": 5}}, SURGE, id="cpu-always-surges"),
    ],
)
def test_an_in_place_change_never_takes_the_last_serving_pod_down(
    spec: dict[str, Any], strategy: dict[str, Any], make_deployment: Any
) -> None:
    """maxUnavailable 1 on a single pod would stop serving until a new pod starts, and for
    good when the change cannot start (a preferred batch size the package refuses)."""
    md = make_deployment(spec)
    assert (
        build_deployment(md, steady_plan(md, fraud_model()).stable)["spec"]["strategy"] == strategy
    )


def model_at(uri: str, **fields: Any) -> ResolvedModel:
    """Model m, version 1, fetched from ``uri``."""
    return ResolvedModel(name="m", version="1", uri=uri, format=ModelFormat.ONNX, **fields)


FETCH_CASES = [
    pytest.param(
        model_at("s3://b/m/1"),
        fetch_init_container("s3://b/m/1", image="img"),
        MODEL_VOLUMES,
        id="object-storage",
    ),
    pytest.param(
        model_at("gs://b/m/1", sha256="ab" * 32, credentials_secret="gcs-reader"),
        fetch_init_container(
            "gs://b/m/1",
            "--sha256",
            "ab" * 32,
            image="img",
            env_from=[{"secretRef": {"name": "gcs-reader"}}],
        ),
        MODEL_VOLUMES,
        id="digest-and-credentials-by-reference",
    ),
    pytest.param(
        model_at("pvc://models/m/1/"),
        fetch_init_container(
            "file:///mnt/model-source/m/1",
            image="img",
            extra_mounts=(
                {"name": "model-source", "mountPath": "/mnt/model-source", "readOnly": True},
            ),
        ),
        [
            *MODEL_VOLUMES,
            {
                "name": "model-source",
                "persistentVolumeClaim": {"claimName": "models", "readOnly": True},
            },
        ],
        id="pvc-mounted-read-only-and-copied",
    ),
]


@pytest.mark.parametrize(("model", "container", "volumes"), FETCH_CASES)
def test_fetch_container_and_volumes(
    model: ResolvedModel, container: dict[str, Any], volumes: list[dict[str, Any]]
) -> None:
    source = ModelSource(name="m", version="1", uri="s3://b/m/1")
    assert fetch_container("img", model, source) == container
    assert model_volumes(model, source) == volumes


def test_model_size_limit_and_fetch_timeout_reach_the_fetch_and_the_volume() -> None:
    model = model_at("s3://b/m/1")
    source = ModelSource(
        name="m", version="1", uri="s3://b/m/1", sizeLimit="1Gi", fetchTimeoutSeconds=60
    )
    args = fetch_container("img", model, source)["args"]
    assert args[args.index("--max-bytes") + 1] == str(2**30)
    assert args[args.index("--timeout-seconds") + 1] == "60"
    (volume, *_) = model_volumes(model, source)
    assert volume == {"name": "model-repository", "emptyDir": {"sizeLimit": str(2**30 + 2**26)}}


def test_builders_do_not_mutate_or_share_the_spec(make_deployment: Any) -> None:
    md = make_deployment({"serving": {"affinity": AFFINITY, "nodeSelector": {"a": "b"}}})
    before = md.model_dump()
    deployment = build_deployment(md, steady_plan(md, fraud_model()).stable)
    deployment["spec"]["template"]["spec"]["affinity"]["nodeAffinity"] = {}
    deployment["spec"]["template"]["spec"]["nodeSelector"]["a"] = "changed"
    assert md.model_dump() == before
