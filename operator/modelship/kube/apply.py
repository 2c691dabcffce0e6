"""Act: carry out a decision's actions, and nothing more.

A child created by a reconcile whose view was a moment old answers "already
exists"; it is read back and, when it is ours, patched where it differs. A name
held by an object we do not control is left alone and reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from modelship.core.merge import owned_patch
from modelship.core.objects import Action, Create, Delete, Patch, Ref
from modelship.core.ownership import is_controlled_by
from modelship.kube.client import Kube
from modelship.kube.errors import AlreadyExistsError, NotFoundError


@dataclass
class Applied:
    """What was done, for Events and metrics; and the names someone else holds."""

    created: list[Ref] = field(default_factory=list)
    # The objects as the API server returned them on creation.
    new_objects: list[dict[str, Any]] = field(default_factory=list)
    patched: list[Ref] = field(default_factory=list)
    deleted: list[Ref] = field(default_factory=list)
    conflicts: set[Ref] = field(default_factory=set)

    @property
    def writes(self) -> int:
        return len(self.created) + len(self.patched) + len(self.deleted)


async def apply(kube: Kube, actions: Iterable[Action], owner_uid: str) -> Applied:
    applied = Applied()
    for action in actions:
        if isinstance(action, Create):
            await _create(kube, action, owner_uid, applied)
        elif isinstance(action, Patch):
            try:
                await kube.patch(action.ref, action.patch)
                applied.patched.append(action.ref)
            except NotFoundError:  # deleted since we looked: the next reconcile recreates it
                pass
        elif isinstance(action, Delete):
            await kube.delete(action.ref)
            applied.deleted.append(action.ref)
    return applied


async def _create(kube: Kube, action: Create, owner_uid: str, applied: Applied) -> None:
    try:
        applied.new_objects.append(await kube.create(action.manifest))
        applied.created.append(action.ref)
        return
    except AlreadyExistsError:
        existing = await kube.get(action.ref)
    if existing is None:
        return  # gone again: the next reconcile creates it
    if not is_controlled_by(existing, owner_uid):
        applied.conflicts.add(action.ref)
        return
    patch = owned_patch(action.manifest, existing)
    if patch is not None:
        await kube.patch(action.ref, patch)
        applied.patched.append(action.ref)
