"""Desired children versus live ones, as the actions that close the gap; shared by every kind."""

from __future__ import annotations

from collections.abc import Sequence

from modelship.core.merge import owned_patch
from modelship.core.objects import Action, Create, Delete, Manifest, Patch, Ref
from modelship.reconcile.ordering import autoscalers_one_at_a_time


def diff_children(desired: Sequence[Manifest], live: Sequence[Manifest]) -> list[Action]:
    """Create what is missing, patch what differs on our fields, delete what is no longer wanted;
    autoscalers one at a time (see `ordering`)."""
    live_by_ref = {Ref.of(obj): obj for obj in live}
    actions: list[Action] = []
    for child in desired:
        ref = Ref.of(child)
        current = live_by_ref.pop(ref, None)
        if current is None:
            actions.append(Create(child))
        elif (patch := owned_patch(child, current)) is not None:
            actions.append(Patch(ref, patch))
    # One already being deleted (a finalizer holds it) needs no second delete.
    actions.extend(
        Delete(ref)
        for ref, obj in sorted(live_by_ref.items())
        if not obj["metadata"].get("deletionTimestamp")
    )
    return autoscalers_one_at_a_time(actions, live)
