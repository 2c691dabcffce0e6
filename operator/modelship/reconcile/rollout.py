"""Which revisions are live while a new model version replaces the running one.

Recreate: the new revision starts beside the stable one, which keeps serving;
once the new one is available it becomes stable and the old one goes. The plan
has room for two live revisions, which the canary strategy will use with
traffic weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from modelship.api.model_deployment import ModelDeployment, ModelDeploymentStatus
from modelship.builders import ResolvedModel, Revision, RevisionPlan, RolloutPlan, steady_plan
from modelship.core.names import FETCH_CONTAINER


class Phase(StrEnum):
    STEADY = "Steady"  # one revision, the one the spec asks for
    ROLLING_OUT = "RollingOut"  # the wanted revision starts while the stable one serves
    PROMOTED = "Promoted"  # the wanted revision just became available and takes over


@dataclass(frozen=True)
class Rollout:
    plan: RolloutPlan
    phase: Phase
    retiring: Revision | None = None  # the revision a promotion replaces


def recreate(
    md: ModelDeployment,
    target: Revision,
    stable: Revision | None,
    deployments: Mapping[str, Mapping[str, Any]],
) -> Rollout:
    """The Recreate rollout step, from the live Deployments by revision name."""
    steady = steady_plan(md, target.model)
    if stable is None or stable.name == target.name:
        return Rollout(steady, Phase.STEADY)
    new = deployments.get(target.name)
    if new is not None and rollout_complete(new):
        return Rollout(steady, Phase.PROMOTED, retiring=stable)
    replicas = steady.stable.replicas
    plan = RolloutPlan(
        stable=RevisionPlan(stable, replicas=replicas),
        canary=RevisionPlan(target, replicas=replicas, weight=0),
    )
    return Rollout(plan, Phase.ROLLING_OUT)


def stable_revision(
    md: ModelDeployment,
    status: ModelDeploymentStatus,
    deployments: Mapping[str, Mapping[str, Any]],
) -> Revision | None:
    """The revision the status says serves, rebuilt from what the status recorded of it.

    It keeps the credentials Secret its live Deployment has: a new one named with a new
    version is the new revision's, and may not exist yet.
    """
    stable = status.stable
    if stable is None:
        return None
    live = deployments.get(stable.name)
    lineage = next((h.lineage for h in status.history if h.revision == stable.name), None)
    model = md.spec.model
    return Revision(
        name=stable.name,
        model=ResolvedModel(
            name=model.name,
            version=stable.version,
            uri=stable.uri,
            format=model.format,
            sha256=stable.sha256,
            credentials_secret=(
                _credentials_secret(live) if live is not None else model.credentials_secret
            ),
            lineage=lineage,
        ),
    )


def _credentials_secret(deployment: Mapping[str, Any]) -> str | None:
    """The Secret the fetch container of a live revision takes its environment from."""
    pod = deployment.get("spec", {}).get("template", {}).get("spec", {})
    for container in pod.get("initContainers", []):
        if container.get("name") == FETCH_CONTAINER:
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    return str(source["secretRef"]["name"])
    return None


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
