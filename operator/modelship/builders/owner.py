"""Who owns a child: the metadata every child of a custom resource starts from."""

from __future__ import annotations

from typing import Any

from modelship.api.model_deployment import KIND as MODEL_DEPLOYMENT_KIND
from modelship.api.model_deployment import ModelDeployment
from modelship.api.retrain_job import KIND as RETRAIN_JOB_KIND
from modelship.api.retrain_job import RetrainJob
from modelship.builders.labels import object_meta, owner_references


def child_meta(
    owner: ModelDeployment | RetrainJob,
    name: str,
    labels: dict[str, str],
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """metadata of a child in its owner's namespace, with the owner's controller reference."""
    kind = MODEL_DEPLOYMENT_KIND if isinstance(owner, ModelDeployment) else RETRAIN_JOB_KIND
    owners = owner_references(kind, owner.metadata.name, owner.metadata.uid)
    return object_meta(name, owner.metadata.namespace, labels, owners, annotations)
