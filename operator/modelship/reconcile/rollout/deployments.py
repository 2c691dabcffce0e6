"""What a revision's Deployment says about its rollout, as the Deployment controller reports it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def rollout_complete(deployment: Mapping[str, Any]) -> bool:
    """As `kubectl rollout status` judges it: the current spec runs, every pod updated and up."""
    meta, spec, status = deployment["metadata"], deployment.get("spec", {}), _status(deployment)
    wanted = spec.get("replicas", 1)
    return bool(
        status.get("observedGeneration", 0) >= meta.get("generation", 1)
        and status.get("updatedReplicas", 0) >= wanted
        and status.get("availableReplicas", 0) >= wanted
        and status.get("replicas", 0) <= wanted
    )


def available_replicas(deployment: Mapping[str, Any] | None) -> int:
    return int(_status(deployment).get("availableReplicas", 0)) if deployment else 0


def ready_replicas(deployment: Mapping[str, Any] | None) -> int:
    return int(_status(deployment).get("readyReplicas", 0)) if deployment else 0


def wanted_replicas(deployment: Mapping[str, Any] | None, planned: int | None) -> int:
    if deployment is not None and "replicas" in deployment.get("spec", {}):
        return int(deployment["spec"]["replicas"])
    return planned if planned is not None else 1


def deadline_exceeded(deployment: Mapping[str, Any] | None) -> str | None:
    """The Deployment controller's message when the rollout made no progress in time."""
    for condition in _status(deployment).get("conditions", []):
        if condition.get("type") == "Progressing" and condition.get("status") == "False":
            return str(condition.get("message") or condition.get("reason") or "no progress")
    return None


def _status(deployment: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return (deployment or {}).get("status") or {}
