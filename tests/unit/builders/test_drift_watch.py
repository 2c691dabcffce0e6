"""Mirrored live drift's children, compared whole: the drift-watch Deployment and Service, and
the RequestMirror filter on the HTTPRoute and GRPCRoute.

Proves: with monitoring.drift.mirrorPercent the routes copy that percent of requests to
the drift-watch Service (HTTP on 8004, gRPC on 8005), whose one pod fetches the stable
revision's model with the serving pod's init container (credentials by reference),
runs `modelship drift-watch` with the contract's flags and the spec's window and
threshold, probes its mirror port, and meets the restricted Pod Security Standard;
without mirrorPercent none of it exists; a new stable revision changes the pod's model
and revision. The Deployment and Service pass Kubernetes' schema, the routes the
vendored Gateway API CRDs (tests/conformance/upstream renders an edge spec as well).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import kubernetes_validate
import pytest
from modelship.api.serving import DEFAULT_TRITON_IMAGE
from modelship.builders import (
    RolloutPlan,
    build_model_deployment_children,
    resolve_model,
    steady_plan,
)
from support.custom_resources import controller_reference
from support.model_pods import drift_watch_args
from support.rollout_plans import rollout_plan
from support.upstream_crd import upstream_crds

STABLE, CANARY = "fraud-1b64e32ff5", "fraud-b7ce7dd1c0"
GATEWAY = {
    "router": "gatewayAPI",
    "parentRefs": [{"name": "public"}],
    "grpcParentRefs": [{"name": "grpc"}],
}
MIRRORED = {
    "model": {"credentialsSecret": "s3-creds"},
    "rollout": {"strategy": "Canary", "canary": {"traffic": GATEWAY}},
    "monitoring": {"drift": {"mirrorPercent": 10, "window": "1h", "threshold": 0.3}},
}
LABELS = {
    "app.kubernetes.io/name": "triton",
    "app.kubernetes.io/instance": "fraud",
    "app.kubernetes.io/component": "drift-watch",
    "app.kubernetes.io/managed-by": "modelship",
    "modelship.dev/deployment": "fraud",
}
SELECTOR = {
    "app.kubernetes.io/instance": "fraud",
    "app.kubernetes.io/component": "drift-watch",
    "modelship.dev/deployment": "fraud",
}
RESTRICTED = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
MODEL_MOUNT = {"name": "model-repository", "mountPath": "/models"}
TMP_MOUNT = {"name": "tmp", "mountPath": "/tmp"}


def _meta(name: str = "fraud-drift-watch") -> dict[str, Any]:
    return {
        "name": name,
        "namespace": "ml",
        "labels": LABELS,
        "ownerReferences": [controller_reference()],
    }


def _deployment(version: str, revision: str) -> dict[str, Any]:
    uri = f"s3://models/fraud/{version}"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(),
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": SELECTOR},
            "strategy": {"type": "Recreate"},
            "template": {
                "metadata": {
                    "labels": LABELS,
                    "annotations": {
                        "modelship.dev/model-uri": uri,
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": "8003",
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 1000,
                        "runAsGroup": 1000,
                        "fsGroup": 1000,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "initContainers": [
                        {
                            "name": "fetch",
                            "image": DEFAULT_TRITON_IMAGE,
                            "command": ["modelship"],
                            "args": [
                                "fetch",
                                "--uri",
                                uri,
                                "--dest",
                                "/models",
                                "--max-bytes",
                                str(20 * 2**30),
                                "--timeout-seconds",
                                "1800",
                            ],
                            "env": [{"name": "HOME", "value": "/tmp"}],
                            "terminationMessagePolicy": "FallbackToLogsOnError",
                            "envFrom": [{"secretRef": {"name": "s3-creds"}}],
                            "volumeMounts": [MODEL_MOUNT, TMP_MOUNT],
                            "securityContext": RESTRICTED,
                        }
                    ],
                    "containers": [
                        {
                            "name": "drift-watch",
                            "image": DEFAULT_TRITON_IMAGE,
                            "command": ["modelship"],
                            "args": [
                                *drift_watch_args(revision, "1h", "0.3"),
                                "--min-window-rows",
                                "400",
                                "--metrics-port",
                                "8003",
                                "--mirror-http-port",
                                "8004",
                                "--mirror-grpc-port",
                                "8005",
                            ],
                            "env": [{"name": "HOME", "value": "/tmp"}],
                            "ports": [
                                {"name": "drift-metrics", "containerPort": 8003, "protocol": "TCP"},
                                {"name": "mirror-http", "containerPort": 8004, "protocol": "TCP"},
                                {"name": "mirror-grpc", "containerPort": 8005, "protocol": "TCP"},
                            ],
                            "readinessProbe": {
                                "httpGet": {"path": "/v2/health/ready", "port": "mirror-http"},
                                "periodSeconds": 5,
                                "failureThreshold": 3,
                            },
                            "livenessProbe": {
                                "httpGet": {"path": "/healthz", "port": "mirror-http"},
                                "periodSeconds": 10,
                                "failureThreshold": 3,
                            },
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "256Mi"},
                                "limits": {"cpu": "1", "memory": "512Mi"},
                            },
                            "volumeMounts": [{**MODEL_MOUNT, "readOnly": True}, TMP_MOUNT],
                            "securityContext": RESTRICTED,
                            # Its last log line is what the operator reports if it exits.
                            "terminationMessagePolicy": "FallbackToLogsOnError",
                        }
                    ],
                    "volumes": [
                        {
                            "name": "model-repository",
                            "emptyDir": {"sizeLimit": str(20 * 2**30 + 64 * 2**20)},
                        },
                        {"name": "tmp", "emptyDir": {}},
                    ],
                },
            },
        },
    }


SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": _meta(),
    "spec": {
        "type": "ClusterIP",
        "selector": SELECTOR,
        "ports": [
            {
                "name": "mirror-http",
                "port": 8004,
                "targetPort": "mirror-http",
                "protocol": "TCP",
                "appProtocol": "http",
            },
            {
                "name": "mirror-grpc",
                "port": 8005,
                "targetPort": "mirror-grpc",
                "protocol": "TCP",
                "appProtocol": "kubernetes.io/h2c",
            },
        ],
    },
}


def _mirror(port: int) -> list[dict[str, Any]]:
    return [
        {
            "type": "RequestMirror",
            "requestMirror": {
                "backendRef": {"name": "fraud-drift-watch", "port": port},
                "percent": 10,
            },
        }
    ]


def _children(
    md: Any, canary: bool, plan: RolloutPlan | None = None
) -> dict[tuple[str, str], dict[str, Any]]:
    if plan is None:
        plan = rollout_plan(md, canary_weight=10) if canary else steady_plan(md, resolve_model(md))
    return {
        (child["kind"], child["metadata"]["name"]): child
        for child in build_model_deployment_children(md, plan)
    }


def test_drift_watch_deployment_and_service(make_deployment: Any) -> None:
    children = _children(make_deployment(MIRRORED), canary=False)
    deployment = children["Deployment", "fraud-drift-watch"]
    assert deployment == _deployment("3", STABLE)
    assert children["Service", "fraud-drift-watch"] == SERVICE
    for obj in (deployment, SERVICE):
        kubernetes_validate.validate(obj, "1.29", strict=True)


def test_drift_watch_pod_is_restricted(make_deployment: Any, check_restricted: Any) -> None:
    deployment = _children(make_deployment(MIRRORED), canary=False)[
        "Deployment", "fraud-drift-watch"
    ]
    assert check_restricted(deployment["spec"]["template"]["spec"]) == []


def test_drift_watch_follows_the_stable_revision_not_the_canary(make_deployment: Any) -> None:
    """Mid-canary the pod still judges stable's model (the canary may never be promoted);
    the version-4 revision becomes its model once it is the stable one."""
    md = make_deployment(MIRRORED)
    mid_canary = _children(md, canary=True)["Deployment", "fraud-drift-watch"]
    args = mid_canary["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--revision") + 1] == STABLE
    promoted = rollout_plan(md, versions=("4", "5"))
    after = _children(md, canary=False, plan=promoted)["Deployment", "fraud-drift-watch"]
    pod = after["spec"]["template"]["spec"]
    assert pod["initContainers"][0]["args"][2] == "s3://models/fraud/4"
    args = pod["containers"][0]["args"]
    assert args[args.index("--revision") + 1] == promoted.stable.revision.name != STABLE


@pytest.mark.parametrize(
    ("kind", "port", "backend_port"), [("HTTPRoute", 8004, 8000), ("GRPCRoute", 8005, 8001)]
)
def test_routes_mirror_the_percent_to_drift_watch(
    kind: str, port: int, backend_port: int, make_deployment: Any
) -> None:
    route = _children(make_deployment(MIRRORED), canary=True)[kind, "fraud"]
    rule = route["spec"]["rules"][0]
    assert rule["filters"] == _mirror(port)
    assert rule["backendRefs"] == [
        {"name": STABLE, "port": backend_port, "weight": 90},
        {"name": CANARY, "port": backend_port, "weight": 10},
    ]
    assert upstream_crds()[("gateway.networking.k8s.io/v1", kind)].problems(route) == []


def test_nothing_is_mirrored_without_mirror_percent(make_deployment: Any) -> None:
    spec = {**MIRRORED, "monitoring": {"drift": {"window": "1h"}}}
    children = _children(make_deployment(spec), canary=True)
    assert [key for key in children if key[1] == "fraud-drift-watch"] == []
    for kind in ("HTTPRoute", "GRPCRoute"):
        assert "filters" not in children[kind, "fraud"]["spec"]["rules"][0]


def test_the_operator_judges_without_numpy() -> None:
    """The operator image has no numpy: its drift rule and the drift-watch floor come from
    modelship_serving.drift_rules, which serving's drift.py shares, and import without it."""
    blocked = "import sys; sys.modules['numpy'] = sys.modules['pandas'] = None; "
    modules = "modelship.handlers, modelship.reconcile.drift, modelship.builders.drift_watch"
    subprocess.run([sys.executable, "-c", f"{blocked}import {modules}"], check=True)
