"""Who owns a child: the metadata every child of a custom resource starts from."""

from __future__ import annotations

from typing import Any

from modelship.api.base import API_VERSION
from modelship.api.model_deployment import KIND as MODEL_DEPLOYMENT_KIND
from modelship.api.model_deployment import ModelDeployment
from modelship.api.retrain_job import KIND as RETRAIN_JOB_KIND
from modelship.api.retrain_job import RetrainJob
from modelship.core.ownership import owner_references


def child_meta(
    owner: ModelDeployment | RetrainJob,
    name: str,
    labels: dict[str, str],
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """metadata of a child in its owner's namespace, with the owner's controller reference."""
    kind = MODEL_DEPLOYMENT_KIND if isinstance(owner, ModelDeployment) else RETRAIN_JOB_KIND
    owners = owner_references(API_VERSION, kind, owner.metadata.name, owner.metadata.uid)
    return object_meta(name, owner.metadata.namespace, labels, owners, annotations)


def object_meta(
    name: str,
    namespace: str,
    labels: dict[str, str],
    owners: list[dict[str, Any]],
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """metadata of a child object."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels}
    if annotations:
        meta["annotations"] = annotations
    if owners:
        meta["ownerReferences"] = owners
    return meta
