"""Order changes between kinds that must not exist side by side, so no change deadlocks.

KEDA's admission webhook refuses a ScaledObject, on create and on every update, while
a HorizontalPodAutoscaler it does not own targets the same workload ("the workload ...
is already managed by the hpa ..."). Created before the old HPA was deleted, the
ScaledObject is refused on every reconcile and the delete behind it never runs. So
when the autoscaling engine changes, the old autoscaler is deleted first and the new
one is created only once the old one is gone from what the operator observes (its
watch shows the deletion and reconciles again).

The other way round, KEDA's finalizer on the ScaledObject runs before it is gone, and
the HPA KEDA made for it (`keda-hpa-<name>`, owned by the ScaledObject) goes with it
by garbage collection. Nothing refuses an HPA, so waiting for the ScaledObject alone
is enough: for the moment both HPAs may exist, the HPA controller scales with neither
(AmbiguousSelector) rather than fighting, and the replicas stay as they are.

KEDA's webhook also reads the ScaledObject's target Deployment (for cpu and memory
triggers) and refuses the ScaledObject while it cannot find it; so a ScaledObject
is created only once its Deployment has been created, by an earlier reconcile.
"""

from __future__ import annotations

from collections.abc import Sequence

from modelship.core.objects import Action, Create, Delete, Manifest

AUTOSCALER_KINDS = frozenset({"HorizontalPodAutoscaler", "ScaledObject"})


def autoscalers_one_at_a_time(actions: Sequence[Action], live: Sequence[Manifest]) -> list[Action]:
    """Deletes of autoscalers first; an autoscaler's create held while one of another kind
    lives, and a ScaledObject's while its target Deployment does not exist yet.

    `live` is every child observed, including any being deleted.
    """
    live_kinds = {obj["kind"] for obj in live if obj["kind"] in AUTOSCALER_KINDS}
    deployments = {obj["metadata"]["name"] for obj in live if obj["kind"] == "Deployment"}

    def held(action: Action) -> bool:
        if not isinstance(action, Create) or action.ref.kind not in AUTOSCALER_KINDS:
            return False
        if live_kinds - {action.ref.kind}:
            return True
        target = action.manifest["spec"]["scaleTargetRef"]["name"]
        return action.ref.kind == "ScaledObject" and target not in deployments

    first = [a for a in actions if isinstance(a, Delete) and a.ref.kind in AUTOSCALER_KINDS]
    rest = [a for a in actions if a not in first and not held(a)]
    return [*first, *rest]
