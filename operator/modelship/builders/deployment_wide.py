"""The children of a ModelDeployment that span its revisions (the autoscaler, the routes,
the disruption budget): each is named after the deployment and labelled with its component."""

from __future__ import annotations

from typing import Any

from modelship.api.model_deployment import AutoscalingSpec, ModelDeployment
from modelship.builders import labels
from modelship.builders.drift_watch import drift_watch_name, mirrored_drift
from modelship.builders.owner import child_meta
from modelship.builders.revision import Revision, RolloutPlan
from modelship.core import names


def deployment_wide_child(
    md: ModelDeployment, api_version: str, kind: str, component: str, spec: dict[str, Any]
) -> dict[str, Any]:
    """`<deployment>` of this kind, labelled as the deployment's `component`."""
    name = md.metadata.name
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": child_meta(md, name, labels.deployment_labels(name, component)),
        "spec": spec,
    }


def autoscaler(
    md: ModelDeployment,
    autoscaling: AutoscalingSpec,
    stable: Revision,
    kind: tuple[str, str],
    bounds: tuple[str, str],
    scale_on: dict[str, Any],
) -> dict[str, Any]:
    """`<deployment>` of ``kind`` (apiVersion, kind): an autoscaler of the stable revision's
    Deployment between spec.autoscaling's replica bounds, under the keys its API names them
    (``bounds``: fewest, most), scaling on ``scale_on``."""
    api_version, kind_name = kind
    fewest, most = bounds
    spec = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": stable.name},
        fewest: autoscaling.min_replicas,
        most: autoscaling.max_replicas,
        **scale_on,
    }
    return deployment_wide_child(md, api_version, kind_name, names.AUTOSCALER, spec)


def weighted_backends(plan: RolloutPlan, port: int) -> list[dict[str, Any]]:
    """A route's backendRefs: one per live revision's Service, with its traffic weight."""
    return [{"name": live.revision.name, "port": port, "weight": live.weight} for live in plan.live]


def mirror_filters(md: ModelDeployment, port: int) -> dict[str, Any]:
    """A route rule's RequestMirror filter to the drift-watch Service's ``port``, with the
    percent monitoring.drift.mirrorPercent asks for; nothing when live traffic is not
    mirrored. The Gateway ignores the copy's answer."""
    mirrored = mirrored_drift(md)
    if mirrored is None:
        return {}
    _, percent = mirrored
    mirror = {"backendRef": {"name": drift_watch_name(md), "port": port}, "percent": percent}
    return {"filters": [{"type": "RequestMirror", "requestMirror": mirror}]}
