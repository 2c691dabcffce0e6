"""Manifest builders: pure functions from a typed spec to the objects the operator owns.

No I/O, no Kopf, no Kubernetes client, no mutation of inputs. The operator
and `modelship render` call the two entry points below; one module per child
kind does the work.
"""

from __future__ import annotations

from typing import Any

from modelship.api.model_deployment import ModelDeployment
from modelship.builders.deployment import build_deployment
from modelship.builders.errors import BuildError, UnresolvedModelError
from modelship.builders.revision import (
    ResolvedModel,
    Revision,
    RevisionPlan,
    RolloutPlan,
    model_from_result,
    resolve_model,
    revision_for,
    revision_name,
    steady_plan,
)
from modelship.builders.service import build_client_service, build_revision_service

__all__ = [
    "BuildError",
    "ResolvedModel",
    "Revision",
    "RevisionPlan",
    "RolloutPlan",
    "UnresolvedModelError",
    "build_model_deployment_children",
    "model_from_result",
    "resolve_model",
    "revision_for",
    "revision_name",
    "steady_plan",
]


def build_model_deployment_children(md: ModelDeployment, plan: RolloutPlan) -> list[dict[str, Any]]:
    """Every object a ModelDeployment owns for this rollout plan, in a stable order."""
    children: list[dict[str, Any]] = []
    for live in plan.live:
        children.append(build_deployment(md, live))
        children.append(build_revision_service(md, live.revision))
    children.append(build_client_service(md, plan))
    return children
