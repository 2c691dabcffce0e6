"""Who controls an object, as its ownerReferences say."""

from __future__ import annotations

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
