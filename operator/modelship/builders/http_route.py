"""Gateway API HTTPRoute that splits traffic between the stable and canary revisions."""

from __future__ import annotations

from typing import Any

from modelship.api.model_deployment import CanarySpec, ModelDeployment
from modelship.builders import defaults, labels
from modelship.builders.owner import child_meta
from modelship.builders.revision import RolloutPlan
from modelship.core import names


def build_http_route(md: ModelDeployment, canary: CanarySpec, plan: RolloutPlan) -> dict[str, Any]:
    """`<deployment>`: weighted backends, one per live revision's Service."""
    name = md.metadata.name
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": child_meta(md, name, labels.deployment_labels(name, names.ROUTER)),
        "spec": {
            "parentRefs": [ref.to_wire() for ref in canary.traffic.parent_refs],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": [
                        {
                            "name": live.revision.name,
                            "port": defaults.HTTP_PORT,
                            "weight": live.weight,
                        }
                        for live in plan.live
                    ],
                }
            ],
        },
    }
