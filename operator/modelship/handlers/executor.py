"""One reconcile loop for every kind: lock, count, gather, decide, act, post, write the status.

A kind supplies how to gather what its decide reads and the pure decide itself
(`KindReconciler`); everything else is the same for all kinds. API failures
become Kopf's temporary errors with the delay they call for, and a decision that
changes by itself at a known time comes back as that time, for the Kopf handler
to requeue on (`requeue`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import kopf

from modelship.core.objects import Ref
from modelship.handlers import metrics
from modelship.handlers.indexes import Indexes
from modelship.handlers.runtime import Runtime, post, retryable
from modelship.kube.apply import apply
from modelship.kube.errors import KubeError
from modelship.reconcile.decision import Decision

Logger = logging.Logger | logging.LoggerAdapter[Any]
Obs = TypeVar("Obs")  # what a kind's gather observes and its decide reads

# Never requeue sooner than this: a wake time already past still waits a moment.
MIN_REQUEUE_DELAY = 1.0


@dataclass(frozen=True)
class KindReconciler(Generic[Obs]):
    """What one kind brings to the loop."""

    kind: str
    gather: Callable[[Mapping[str, Any], Indexes, Runtime], Awaitable[Obs]]
    decide: Callable[[Obs], Decision]
    # The observation again, with names someone else holds that a create ran into;
    # None for a kind whose decision does not depend on them.
    with_conflicts: Callable[[Obs, frozenset[Ref]], Obs] | None = None

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
        kind = self.kind
        async with runtime.locks[meta["uid"]]:
            metrics.RECONCILES.labels(kind, trigger).inc()
            with metrics.RECONCILE_SECONDS.labels(kind).time():
                try:
                    observed = await self.gather(body, indexes, runtime)
                    decision = self.decide(observed)
                    applied = await apply(runtime.kube, decision.actions, meta["uid"])
                    runtime.remember(meta["uid"], applied)
                    if applied.conflicts and self.with_conflicts is not None:
                        conflicts = frozenset(applied.conflicts)
                        decision = self.decide(self.with_conflicts(observed, conflicts))
                    post(body, applied, decision.events, logger)
                    await runtime.write_status(body, decision.status, decision.status_patch)
                except KubeError as error:
                    raise retryable(error, kind) from error
        return decision.wake_at


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
