"""Gateway API HTTPRoute that splits traffic between the stable and canary revisions."""

from __future__ import annotations

from typing import Any

from modelship.api.model_deployment import CanarySpec, ModelDeployment
from modelship.builders import defaults
from modelship.builders.deployment_wide import (
    deployment_wide_child,
    mirror_filters,
    weighted_backends,
)
from modelship.builders.revision import RolloutPlan
from modelship.core import names


def build_http_route(md: ModelDeployment, canary: CanarySpec, plan: RolloutPlan) -> dict[str, Any]:
    """`<deployment>`: weighted backends, one per live revision's Service, and a mirrored
    share of requests to drift-watch where monitoring.drift.mirrorPercent asks for one."""
    spec = {
        "parentRefs": [ref.to_wire() for ref in canary.traffic.parent_refs],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                **mirror_filters(md, defaults.DRIFT_MIRROR_HTTP_PORT),
                "backendRefs": weighted_backends(plan, defaults.HTTP_PORT),
            }
        ],
    }
    return deployment_wide_child(
        md, "gateway.networking.k8s.io/v1", "HTTPRoute", names.ROUTER, spec
    )
