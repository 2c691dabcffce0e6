"""The revision that serves now, rebuilt from what the status recorded of it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from modelship.api.model_deployment import ModelDeployment, ModelDeploymentStatus
from modelship.builders import Revision, model_version
from modelship.core.names import FETCH_CONTAINER


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
    model = model_version(md, stable.version, stable.uri, stable.sha256, lineage)
    if live is not None:
        model = dataclasses.replace(model, credentials_secret=_credentials_secret(live))
    return Revision(name=stable.name, model=model)


def _credentials_secret(deployment: Mapping[str, Any]) -> str | None:
    """The Secret the fetch container of a live revision takes its environment from."""
    pod = deployment.get("spec", {}).get("template", {}).get("spec", {})
    for container in pod.get("initContainers", []):
        if container.get("name") == FETCH_CONTAINER:
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    return str(source["secretRef"]["name"])
    return None
