"""Gateway API GRPCRoute that splits Triton's gRPC traffic (port 8001) like the HTTPRoute.

Gateway API lets one listener serve either an HTTPRoute or a GRPCRoute for a
hostname, never both: where their hostnames meet, the older route is accepted
and the other refused. So the GRPCRoute attaches to parents of its own (a
gRPC listener, or another Gateway), never silently to the HTTPRoute's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelship.api.model_deployment import ModelDeployment, ParentReference
from modelship.builders import defaults
from modelship.builders.deployment_wide import (
    deployment_wide_child,
    mirror_filters,
    weighted_backends,
)
from modelship.builders.revision import RolloutPlan
from modelship.core import names


def build_grpc_route(
    md: ModelDeployment, parent_refs: Sequence[ParentReference], plan: RolloutPlan
) -> dict[str, Any]:
    """`<deployment>`: every gRPC call, weighted over the live revisions' Services (and a
    mirrored share to drift-watch, as the HTTPRoute)."""
    spec = {
        "parentRefs": [ref.to_wire() for ref in parent_refs],
        # A rule without matches takes every service and method.
        "rules": [
            {
                **mirror_filters(md, defaults.DRIFT_MIRROR_GRPC_PORT),
                "backendRefs": weighted_backends(plan, defaults.GRPC_PORT),
            }
        ],
    }
    return deployment_wide_child(
        md, "gateway.networking.k8s.io/v1", "GRPCRoute", names.ROUTER, spec
    )
