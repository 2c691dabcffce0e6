"""Services: one per revision (analysis, HTTPRoute backends) and the stable one for clients."""

from __future__ import annotations

from typing import Any

from modelship.api.model_deployment import ModelDeployment, TrafficRouter
from modelship.builders import defaults, labels
from modelship.builders.owner import child_meta
from modelship.builders.revision import Revision, RolloutPlan
from modelship.core import names

_HTTP = {"name": "http", "port": defaults.HTTP_PORT, "targetPort": "http", "protocol": "TCP"}
_GRPC = {"name": "grpc", "port": defaults.GRPC_PORT, "targetPort": "grpc", "protocol": "TCP"}
_METRICS = {
    "name": "metrics",
    "port": defaults.METRICS_PORT,
    "targetPort": "metrics",
    "protocol": "TCP",
}


def build_revision_service(md: ModelDeployment, revision: Revision) -> dict[str, Any]:
    """`<revision>`: the pods of one revision, metrics port included."""
    name = md.metadata.name
    return _service(
        child_meta(md, revision.name, labels.deployment_labels(name, names.SERVER, revision)),
        labels.server_selector(name, revision.name),
        [_HTTP, _GRPC, _METRICS],
    )


def build_client_service(md: ModelDeployment, plan: RolloutPlan) -> dict[str, Any]:
    """`<deployment>`: the address clients keep across revisions.

    It selects the stable revision only, except while a canary with a share of
    traffic rolls out with the `replicas` router: then it selects every revision
    and traffic splits by pod counts. A new revision at weight 0 (starting, or
    not yet judged) gets no client traffic. (With `gatewayAPI`, the HTTPRoute
    splits Gateway traffic; direct in-cluster clients stay on stable.)
    """
    name = md.metadata.name
    canary = defaults.canary_settings(md.spec.rollout)
    split_by_pods = (
        plan.canary is not None
        and plan.canary.weight > 0
        and canary is not None
        and canary.traffic.router == TrafficRouter.REPLICAS
    )
    selector = labels.server_selector(name, None if split_by_pods else plan.stable.revision.name)
    return _service(
        child_meta(md, name, labels.deployment_labels(name, names.SERVER)),
        selector,
        [_HTTP, _GRPC],
    )


def _service(
    metadata: dict[str, Any], selector: dict[str, str], ports: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [dict(port) for port in ports],
        },
    }
