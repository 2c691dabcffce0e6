"""Act: carry out a decision's actions, and nothing more.

A child created by a reconcile whose view was a moment old answers "already
exists"; it is read back and, when it is ours, patched where it differs. A name
held by an object we do not control is left alone and reported. A child the API
server refuses (422 Invalid, 403 from admission) is reported too, and the actions
after it are not carried out: they may retire the revision that serves, which must
keep serving while its successor cannot even be written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from modelship.core.merge import owned_patch
from modelship.core.objects import Action, Create, Delete, Patch, Ref, Refusal
from modelship.core.ownership import is_controlled_by
from modelship.kube.client import Kube
from modelship.kube.errors import AlreadyExistsError, NotFoundError, RejectedError


@dataclass
class Applied:
    """What was done, for Events and metrics; and the names someone else holds."""

    created: list[Ref] = field(default_factory=list)
    # The objects as the API server returned them on creation.
    new_objects: list[dict[str, Any]] = field(default_factory=list)
    patched: list[Ref] = field(default_factory=list)
    deleted: list[Ref] = field(default_factory=list)
    conflicts: set[Ref] = field(default_factory=set)
    # The write the API server refused; the actions after it were not carried out.
    refused: Refusal | None = None

    @property
    def writes(self) -> int:
        return len(self.created) + len(self.patched) + len(self.deleted)


async def apply(kube: Kube, actions: Iterable[Action], owner_uid: str) -> Applied:
    applied = Applied()
    for action in actions:
        try:
            await _apply_one(kube, action, owner_uid, applied)
        except RejectedError as error:
            # The client's message names the object first; the refusal keeps the two apart.
            applied.refused = Refusal.of(action.ref, str(error).removeprefix(f"{action.ref}: "))
            break
    return applied


async def _apply_one(kube: Kube, action: Action, owner_uid: str, applied: Applied) -> None:
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
