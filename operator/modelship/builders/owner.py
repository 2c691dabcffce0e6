"""Who owns a child: the metadata every child of a custom resource starts from."""

from __future__ import annotations

from typing import Any

from modelship.api.base import API_VERSION
from modelship.api.model_deployment import KIND as MODEL_DEPLOYMENT_KIND
from modelship.api.model_deployment import ModelDeployment
from modelship.api.retrain_job import KIND as RETRAIN_JOB_KIND
from modelship.api.retrain_job import RetrainJob


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


def owner_references(kind: str, name: str, uid: str | None) -> list[dict[str, Any]]:
    """The controller reference to the owning custom resource.

    Empty when the owner has no uid yet (offline `modelship render`): a made-up
    uid would let the garbage collector delete the children as orphans.
    """
    if uid is None:
        return []
    return [
        {
            "apiVersion": API_VERSION,
            "kind": kind,
            "name": name,
            "uid": uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


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
