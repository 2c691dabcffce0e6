"""The Triton Deployment of one revision."""

from __future__ import annotations

from typing import Any

from modelship.api.model_deployment import ModelDeployment
from modelship.builders import defaults, labels
from modelship.builders.live_drift import (
    TRACE_MOUNT,
    drift_watch_container,
    live_drift,
    trace_volume,
    triton_trace_args,
)
from modelship.builders.owner import child_meta
from modelship.builders.pod import (
    configure_container,
    fetch_container,
    model_mounts,
    model_volumes,
    resources,
    scheduling,
    wants_gpu,
)
from modelship.builders.pod_security import container_security_context, pod_security_context
from modelship.builders.revision import RevisionPlan
from modelship.core import names
from modelship.core.names import TRITON_CONTAINER

SHM_MOUNT: dict[str, Any] = {"name": defaults.SHM_VOLUME, "mountPath": defaults.SHM_PATH}


def build_deployment(
    md: ModelDeployment, plan: RevisionPlan, fetch_image: str | None = None
) -> dict[str, Any]:
    """The Deployment named after the revision, running Triton on its model (fetched by
    `fetch_image`, or by the serving image when none is given)."""
    revision = plan.revision
    serving = md.spec.serving
    name = md.metadata.name
    selector = labels.server_selector(name, revision.name)
    annotations = labels.revision_annotations(revision)
    drift = live_drift(md)
    sidecars = [drift_watch_container(drift, revision, serving.image)] if drift else []
    spec: dict[str, Any] = {}
    if plan.replicas is not None:
        spec["replicas"] = plan.replicas
    spec |= {
        "revisionHistoryLimit": defaults.DEPLOYMENT_HISTORY_LIMIT,
        "selector": {"matchLabels": selector},
        "strategy": _update_strategy(wants_gpu(serving.gpu), _fewest_pods(md, plan)),
        "template": {
            "metadata": {
                "labels": labels.deployment_labels(name, names.SERVER, revision),
                "annotations": annotations | defaults.SCRAPE_ANNOTATIONS,
            },
            "spec": {
                "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                "securityContext": pod_security_context(),
                "initContainers": [
                    fetch_container(fetch_image or serving.image, revision.model, md.spec.model),
                    configure_container(serving, revision.model),
                ],
                "containers": [_triton_container(md), *sidecars],
                "volumes": [
                    *model_volumes(revision.model, md.spec.model),
                    _shared_memory_volume(),
                    *([trace_volume()] if drift is not None else []),
                ],
                **scheduling(
                    serving.gpu, serving.node_selector, serving.tolerations, serving.affinity
                ),
                "topologySpreadConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": defaults.SPREAD_TOPOLOGY_KEY,
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": {"matchLabels": dict(selector)},
                    }
                ],
            },
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": child_meta(
            md, revision.name, labels.deployment_labels(name, names.SERVER, revision), annotations
        ),
        "spec": spec,
    }


def _update_strategy(gpu: bool, fewest_pods: int) -> dict[str, Any]:
    """How a serving change (resources, GPUs, batching, args) replaces the pods in place.

    A surge pod (maxSurge 1, maxUnavailable 0) keeps every old pod serving until its
    replacement is ready, so a change whose pods cannot start takes nothing down. On GPUs a
    surge pod needs a spare GPU, which a GPU cluster rarely has, so with several pods one is
    replaced at a time instead (maxSurge 0, maxUnavailable 1), and the others serve. With a
    single pod that would take the model off the air for as long as the new pod cannot
    start: there it surges on GPUs too, and the new pod waits Pending for a free GPU (past
    the progress deadline, Degraded says RolloutFailed) while the old one serves.
    """
    surge, unavailable = (0, 1) if gpu and fewest_pods > 1 else (1, 0)
    return {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
    }


def _fewest_pods(md: ModelDeployment, plan: RevisionPlan) -> int:
    """The fewest pods the Deployment may run: as planned, or the autoscaler's floor."""
    if plan.replicas is not None:
        return plan.replicas
    autoscaling = md.spec.autoscaling
    return autoscaling.min_replicas if autoscaling is not None else md.spec.serving.replicas


def _triton_container(md: ModelDeployment) -> dict[str, Any]:
    serving = md.spec.serving
    drift = live_drift(md)
    container: dict[str, Any] = {
        "name": TRITON_CONTAINER,
        "image": serving.image,
        "command": ["tritonserver"],
        "args": [
            f"--model-repository={defaults.MODEL_REPOSITORY_PATH}",
            f"--http-port={defaults.HTTP_PORT}",
            f"--grpc-port={defaults.GRPC_PORT}",
            f"--metrics-port={defaults.METRICS_PORT}",
            *defaults.TRITON_METRICS_CONFIG,
            *(triton_trace_args(drift.sample_every) if drift is not None else []),
            *serving.args,
        ],
        "ports": [
            {"name": "http", "containerPort": defaults.HTTP_PORT, "protocol": "TCP"},
            {"name": "grpc", "containerPort": defaults.GRPC_PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": defaults.METRICS_PORT, "protocol": "TCP"},
        ],
        "startupProbe": _probe(defaults.READY_PATH, defaults.STARTUP_PROBE),
        "readinessProbe": _probe(defaults.READY_PATH, defaults.READINESS_PROBE),
        "livenessProbe": _probe(defaults.LIVE_PATH, defaults.LIVENESS_PROBE),
    }
    limits = resources(serving.resources, serving.gpu)
    if limits:
        container["resources"] = limits
    container["volumeMounts"] = model_mounts(SHM_MOUNT)
    if drift is not None:
        container["volumeMounts"].append(dict(TRACE_MOUNT))
    container["securityContext"] = container_security_context()
    return container


def _shared_memory_volume() -> dict[str, Any]:
    # /dev/shm for Triton's python backend (see defaults.SHM_SIZE_LIMIT).
    return {
        "name": defaults.SHM_VOLUME,
        "emptyDir": {"medium": "Memory", "sizeLimit": defaults.SHM_SIZE_LIMIT},
    }


def _probe(path: str, timing: dict[str, Any]) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": "http"}, **timing}
