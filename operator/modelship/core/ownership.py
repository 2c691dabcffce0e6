"""Who controls an object: the ownerReferences the operator writes, and reads back."""

from __future__ import annotations

from typing import Any

from modelship.core.objects import Manifest


def is_controlled_by(obj: Manifest, owner_uid: str | None) -> bool:
    """Whether `obj` names the owner as its controller: only such objects are ours to change."""
    if owner_uid is None:
        return False
    return any(
        ref.get("uid") == owner_uid and ref.get("controller")
        for ref in obj.get("metadata", {}).get("ownerReferences", [])
    )


def controller_uid(obj: Manifest) -> str | None:
    for ref in obj.get("metadata", {}).get("ownerReferences", []):
        if ref.get("controller"):
            uid = ref.get("uid")
            return str(uid) if uid is not None else None
    return None


def owner_references(
    api_version: str, kind: str, name: str, uid: str | None
) -> list[dict[str, Any]]:
    """The controller reference to the owning object.

    Empty when the owner has no uid yet (offline `modelship render`): a made-up
    uid would let the garbage collector delete the children as orphans.
    """
    if uid is None:
        return []
    return [
        {
            "apiVersion": api_version,
            "kind": kind,
            "name": name,
            "uid": uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
