"""One reconcile loop for every kind: lock, count, gather, decide, act, post, write the status.

A kind supplies how to gather what its decide reads and the pure decide itself
(`KindReconciler`); everything else is the same for all kinds. API failures
become Kopf's temporary errors with the delay they call for, and a decision that
changes by itself at a known time comes back as that time, for the Kopf handler
to requeue on (`requeue`).

A child the API server refuses (422 Invalid, 403 from admission) is no transient
failure: the status says so (the kind's decide gets the refusal back), a Warning
Event says so, and the same generation is not written again before its back-off
ends, however many child or pod events arrive meanwhile.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import kopf

from modelship.core.objects import Event, Ref, Refusal
from modelship.handlers import metrics
from modelship.handlers.indexes import Indexes
from modelship.handlers.runtime import MIN_WAKE_DELAY, Runtime, post, retryable
from modelship.kube.apply import Applied, apply
from modelship.kube.errors import KubeError
from modelship.reconcile import reasons
from modelship.reconcile.decision import Decision

Logger = logging.Logger | logging.LoggerAdapter[Any]
Obs = TypeVar("Obs")  # what a kind's gather observes and its decide reads

# Never requeue sooner than this: a wake time already past still waits a moment.
MIN_REQUEUE_DELAY = MIN_WAKE_DELAY


@dataclass(frozen=True)
class KindReconciler(Generic[Obs]):
    """What one kind brings to the loop."""

    kind: str
    gather: Callable[[Mapping[str, Any], Indexes, Runtime], Awaitable[Obs]]
    decide: Callable[[Obs], Decision]
    # The observation again, with names someone else holds that a create ran into;
    # None for a kind whose decision does not depend on them.
    with_conflicts: Callable[[Obs, frozenset[Ref]], Obs] | None = None
    # The observation again, with the child the API server refused to write; None for a kind
    # whose status does not report it (a Warning Event still does).
    with_refusal: Callable[[Obs, Refusal], Obs] | None = None
    # Where the indexes keep this kind's objects by uid: a scheduled wake reads the newest body.
    by_uid: Callable[[Indexes], Mapping[str, Any]] = dataclasses.field(kw_only=True)

    async def reconcile(
        self,
        body: Mapping[str, Any],
        indexes: Indexes,
        runtime: Runtime,
        trigger: str,
        logger: Logger,
    ) -> datetime | None:
        """Bring one object's children and status to what its decide says; the decision's wake
        time, if it has one."""
        meta = body["metadata"]
        if meta.get("deletionTimestamp"):
            return None  # the garbage collector takes the children with it
        kind, uid, generation = self.kind, meta["uid"], meta.get("generation")
        async with runtime.locks[uid]:
            metrics.RECONCILES.labels(kind, trigger).inc()
            with metrics.RECONCILE_SECONDS.labels(kind).time():
                try:
                    current = await runtime.current(body)
                    if current is None:
                        return None  # deleted meanwhile
                    body = current
                    observed = await self.gather(body, indexes, runtime)
                    held = runtime.backing_off(uid, generation, now())
                    if held is not None:  # refused moments ago: write nothing until retry_at
                        decision, applied = self._refused(observed, held.refusal), Applied()
                    else:
                        decision, applied = await self._act(body, observed, runtime)
                        held = runtime.refused(uid, generation, applied.refused, now())
                    events = decision.events
                    if applied.refused is not None and self.with_refusal is None:
                        events = (*events, _refusal_event(applied.refused))
                    post(body, applied, events, logger)
                    await runtime.write_status(body, decision.status, decision.status_patch)
                except KubeError as error:
                    raise retryable(error, kind) from error
        return _earliest(decision.wake_at, held.retry_at if held is not None else None)

    async def reconcile_on_event(
        self,
        body: Mapping[str, Any],
        indexes: Indexes,
        runtime: Runtime,
        trigger: str,
        logger: Logger,
    ) -> None:
        """Reconcile for a watch event (a child's, a pod's, a promotion). Kopf will not call
        again at the decision's wake time, as it does for its own handlers, so the runtime
        wakes the object then, with its body as the indexes hold it by that time."""
        wake_at = await self.reconcile(body, indexes, runtime, trigger, logger)
        uid = body["metadata"]["uid"]

        async def woken() -> None:
            current = indexes.first(self.by_uid(indexes), uid)
            if current is not None:
                await self.reconcile_on_event(current, indexes, runtime, "wake", logger)

        runtime.wake(uid, wake_at, woken)

    async def _act(
        self, body: Mapping[str, Any], observed: Obs, runtime: Runtime
    ) -> tuple[Decision, Applied]:
        """Decide and apply; decide again when the writes ran into a taken name or a refusal."""
        decision = self.decide(observed)
        applied = await apply(runtime.kube, decision.actions, body["metadata"]["uid"])
        runtime.remember(body["metadata"]["uid"], applied)
        if applied.conflicts and self.with_conflicts is not None:
            observed = self.with_conflicts(observed, frozenset(applied.conflicts))
            decision = self.decide(observed)
        if applied.refused is not None:
            metrics.RECONCILE_ERRORS.labels(self.kind, "RejectedError").inc()
            decision = self._refused(observed, applied.refused)
        return decision, applied

    def _refused(self, observed: Obs, refusal: Refusal) -> Decision:
        """The decision that reports the refusal; its actions are not carried out."""
        if self.with_refusal is None:
            decision = self.decide(observed)
        else:
            decision = self.decide(self.with_refusal(observed, refusal))
        return dataclasses.replace(decision, actions=())


def _refusal_event(refusal: Refusal) -> Event:
    return Event(
        "Warning",
        reasons.CHILD_REJECTED,
        f"The API server refused {refusal.ref}: {refusal.message}",
    )


def _earliest(*times: datetime | None) -> datetime | None:
    known = [time for time in times if time is not None]
    return min(known) if known else None


def requeue(wake_at: datetime | None, now: datetime | None = None) -> None:
    """Have Kopf run the handler again at `wake_at` (nothing when None).

    Kopf's way to say "again later" is a temporary error with a delay; the create,
    update, resume and timer handlers all retry on it after that delay.
    """
    if wake_at is None:
        return
    now = now or datetime.now(UTC)
    delay = max((wake_at - now).total_seconds(), MIN_REQUEUE_DELAY)
    raise kopf.TemporaryError(f"Reconciling again at {wake_at.isoformat()}.", delay=delay)


def now() -> datetime:
    """The time a gather records, to the second as the API server writes times."""
    return datetime.now(UTC).replace(microsecond=0)
