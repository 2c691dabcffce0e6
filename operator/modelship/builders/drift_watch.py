"""Mirrored live drift: the drift-watch Deployment and its Service (monitoring.drift.mirrorPercent).

The Gateway copies `mirrorPercent` of the requests its routes carry to this Service
(`RequestMirror`, builders/http_route.py and grpc_route.py) and ignores the answers, so
nothing on the inference path waits for the copy. One pod per ModelDeployment receives
them (`modelship drift-watch` in mirror mode), counts their inputs into the stable
revision's reference profile over `monitoring.drift.window`, and shows the window's drift
on its metrics port, which the operator reads into status.drift. Its model repository is
the stable revision's, fetched by the init container a serving pod has (same image, same
credentials by reference); it follows the stable revision when that changes.
"""

from __future__ import annotations

from typing import Any

from modelship.api.model_deployment import ModelDeployment
from modelship.api.monitoring import DriftMonitoring
from modelship.builders import defaults, labels
from modelship.builders.live_drift import drift_watch_args
from modelship.builders.names import child_name
from modelship.builders.owner import child_meta
from modelship.builders.pod import (
    HOME_ENV,
    LAST_WORDS,
    fetch_container,
    model_mounts,
    model_volumes,
)
from modelship.builders.pod_security import container_security_context, pod_security_context
from modelship.builders.revision import Revision
from modelship.core import names

MIRROR_HTTP_PORT_NAME = "mirror-http"
MIRROR_GRPC_PORT_NAME = "mirror-grpc"
METRICS_PORT_NAME = "drift-metrics"


def mirrored_drift(md: ModelDeployment) -> tuple[DriftMonitoring, int] | None:
    """The drift settings and the percent mirrored, when live traffic is mirrored."""
    drift = md.spec.monitoring.drift if md.spec.monitoring is not None else None
    if drift is None or drift.mirror_percent is None:
        return None
    return drift, drift.mirror_percent


def drift_watch_name(md: ModelDeployment) -> str:
    """`<deployment>-drift-watch`: the Deployment and the Service the routes mirror to."""
    return child_name(md.metadata.name, names.DRIFT_WATCH)


def drift_watch_selector(deployment: str) -> dict[str, str]:
    """Selects a deployment's drift-watch pod (gather finds it by these labels)."""
    return {
        names.INSTANCE: deployment,
        names.COMPONENT: names.DRIFT_WATCH,
        names.DEPLOYMENT: deployment,
    }


def build_drift_watch_deployment(
    md: ModelDeployment, drift: DriftMonitoring, stable: Revision, fetch_image: str | None = None
) -> dict[str, Any]:
    """One pod judging the mirrored requests against ``stable``'s reference profile."""
    name = md.metadata.name
    serving = md.spec.serving
    pod_labels = labels.deployment_labels(name, names.DRIFT_WATCH)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": child_meta(md, drift_watch_name(md), pod_labels),
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": defaults.DEPLOYMENT_HISTORY_LIMIT,
            "selector": {"matchLabels": drift_watch_selector(name)},
            # One pod at a time: a window belongs to one pod and one revision.
            "strategy": {"type": "Recreate"},
            "template": {
                "metadata": {
                    "labels": pod_labels,
                    "annotations": labels.revision_annotations(stable) | _SCRAPE_ANNOTATIONS,
                },
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": pod_security_context(),
                    "initContainers": [
                        fetch_container(fetch_image or serving.image, stable.model, md.spec.model)
                    ],
                    "containers": [_drift_watch_container(drift, stable, serving.image)],
                    "volumes": model_volumes(stable.model, md.spec.model),
                },
            },
        },
    }


def build_drift_watch_service(md: ModelDeployment) -> dict[str, Any]:
    """The backend of the routes' RequestMirror filters: HTTP on 8004, gRPC (h2c) on 8005."""
    name = md.metadata.name
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": child_meta(
            md, drift_watch_name(md), labels.deployment_labels(name, names.DRIFT_WATCH)
        ),
        "spec": {
            "type": "ClusterIP",
            "selector": drift_watch_selector(name),
            "ports": [
                {
                    "name": MIRROR_HTTP_PORT_NAME,
                    "port": defaults.DRIFT_MIRROR_HTTP_PORT,
                    "targetPort": MIRROR_HTTP_PORT_NAME,
                    "protocol": "TCP",
                    "appProtocol": "http",
                },
                {
                    "name": MIRROR_GRPC_PORT_NAME,
                    "port": defaults.DRIFT_MIRROR_GRPC_PORT,
                    "targetPort": MIRROR_GRPC_PORT_NAME,
                    "protocol": "TCP",
                    # gRPC without TLS: Gateway implementations speak HTTP/2 to it only so told.
                    "appProtocol": "kubernetes.io/h2c",
                },
            ],
        },
    }


_SCRAPE_ANNOTATIONS = {
    "prometheus.io/scrape": "true",
    "prometheus.io/port": str(defaults.DRIFT_METRICS_PORT),
    "prometheus.io/path": "/metrics",
}


def _drift_watch_container(drift: DriftMonitoring, stable: Revision, image: str) -> dict[str, Any]:
    ports = (
        (METRICS_PORT_NAME, defaults.DRIFT_METRICS_PORT),
        (MIRROR_HTTP_PORT_NAME, defaults.DRIFT_MIRROR_HTTP_PORT),
        (MIRROR_GRPC_PORT_NAME, defaults.DRIFT_MIRROR_GRPC_PORT),
    )
    return {
        "name": names.DRIFT_WATCH_CONTAINER,
        "image": image,
        "command": ["modelship"],
        "args": [
            *drift_watch_args(drift, stable),
            "--min-window-rows",
            str(defaults.DRIFT_MIN_WINDOW_ROWS),
            "--metrics-port",
            str(defaults.DRIFT_METRICS_PORT),
            "--mirror-http-port",
            str(defaults.DRIFT_MIRROR_HTTP_PORT),
            "--mirror-grpc-port",
            str(defaults.DRIFT_MIRROR_GRPC_PORT),
        ],
        "env": [dict(HOME_ENV)],
        "ports": [
            {"name": port_name, "containerPort": port, "protocol": "TCP"}
            for port_name, port in ports
        ],
        "readinessProbe": {
            "httpGet": {"path": defaults.READY_PATH, "port": MIRROR_HTTP_PORT_NAME},
            **defaults.READINESS_PROBE,
        },
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": MIRROR_HTTP_PORT_NAME},
            **defaults.LIVENESS_PROBE,
        },
        "resources": {key: dict(value) for key, value in defaults.DRIFT_MIRROR_RESOURCES.items()},
        "volumeMounts": model_mounts(),
        "securityContext": container_security_context(),
        # Its last log line (`Error: ...`) is what the operator reports when it exits.
        **LAST_WORDS,
    }
