"""What the handlers share while the operator runs: the API client, locks, metrics, Events."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import kopf

from modelship.core.objects import Event, Ref, Refusal
from modelship.handlers import metrics
from modelship.kube.apply import Applied
from modelship.kube.client import Kube
from modelship.kube.errors import ConflictError, KubeError, RejectedError, UnavailableError

Logger = logging.Logger | logging.LoggerAdapter[Any]

# Seconds to wait before retrying after an API error that said nothing about when.
DEFAULT_RETRY_DELAY = 5.0
# A refused write is asked again after 10 s, then twice as long each time, up to 10 min:
# the same spec is refused the same way until a person (or a policy change) fixes it.
FIRST_REFUSAL_BACKOFF = 10.0
MAX_REFUSAL_BACKOFF = 600.0
# Never wake sooner than this: a wake time already past still waits a moment.
MIN_WAKE_DELAY = 1.0

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """A write the API server refused, and when to ask again for the same generation."""

    generation: int | None
    refusal: Refusal
    attempts: int
    retry_at: datetime

    @classmethod
    def after(
        cls, previous: Backoff | None, generation: int | None, refusal: Refusal, now: datetime
    ) -> Backoff:
        attempts = (
            1 if previous is None or previous.generation != generation else previous.attempts + 1
        )
        delay = min(FIRST_REFUSAL_BACKOFF * 2 ** (attempts - 1), MAX_REFUSAL_BACKOFF)
        return cls(generation, refusal, attempts, now + timedelta(seconds=delay))


@dataclass
class Runtime:
    """Kept in Kopf's memo for the life of the operator."""

    kube: Kube
    # The image that fetches models (OperatorSettings.fetch_image); None: the serving image.
    fetch_image: str | None = None
    # One reconcile at a time per object, whether a handler or a child's event started it.
    locks: defaultdict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))
    # The status last written per uid: a view a moment old must not make us write it again.
    written: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Children created per owner uid that the watch-fed indexes may not show yet.
    created: dict[str, dict[Ref, dict[str, Any]]] = field(default_factory=dict)
    # Per uid, the last refused write: not asked again before its time for the same generation.
    refusals: dict[str, Backoff] = field(default_factory=dict)
    # Per uid, (the resourceVersion our last status write was computed from, the one it made).
    # The watch-fed indexes may still hand out a view from before the write: deciding again
    # from it would undo what was just decided (a rolled-back canary brought back), so such a
    # view is read anew from the API server.
    written_versions: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Per uid, the earliest time a decision asked to be woken at, and the timer for it.
    wakes: dict[str, tuple[datetime, asyncio.TimerHandle]] = field(default_factory=dict)
    _woken: set[asyncio.Task[None]] = field(default_factory=set)

    def wake(self, uid: str, at: datetime | None, reconcile: Callable[[], Awaitable[None]]) -> None:
        """Run `reconcile` at `at`, unless an earlier wake of this object is already set.

        Kopf requeues only its own handlers; a reconcile that a child's or a pod's event
        started would otherwise lose its decision's wake time until the next resync.
        """
        if at is None:
            return
        scheduled = self.wakes.get(uid)
        if scheduled is not None:
            if scheduled[0] <= at:
                return
            scheduled[1].cancel()
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self.wakes.pop(uid, None)
            task = loop.create_task(_logged(reconcile()))
            self._woken.add(task)
            task.add_done_callback(self._woken.discard)

        delay = max((at - datetime.now(UTC)).total_seconds(), MIN_WAKE_DELAY)
        self.wakes[uid] = (at, loop.call_later(delay, fire))

    def with_created(self, uid: str, indexed: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The indexed children, plus those we created that the index has not caught up with."""
        pending = self.created.get(uid, {})
        for child in indexed:
            pending.pop(Ref.of(child), None)
        return [*indexed, *pending.values()]

    def seen(self, uid: str, child: Mapping[str, Any]) -> None:
        """The watch has shown this child: the index speaks for it from now on."""
        self.created.get(uid, {}).pop(Ref.of(child), None)

    def remember(self, uid: str, applied: Applied) -> None:
        pending = self.created.setdefault(uid, {})
        pending.update((Ref.of(obj), obj) for obj in applied.new_objects)
        for ref in applied.deleted:
            pending.pop(ref, None)

    async def write_status(
        self, body: Mapping[str, Any], status: dict[str, Any], patch: dict[str, Any]
    ) -> bool:
        uid = body["metadata"]["uid"]
        if not patch or self.written.get(uid) == status:
            metrics.observe_status(body, status)
            return False
        written = await self.kube.patch_status(Ref.of(body), patch)
        self.written[uid] = status
        base = body["metadata"].get("resourceVersion")
        made = (written.get("metadata") or {}).get("resourceVersion")
        if base is not None and made is not None:
            self.written_versions[uid] = (str(base), str(made))
        metrics.WRITES.labels(body["kind"], "status").inc()
        metrics.observe_status(body, status)
        return True

    async def current(self, body: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """`body`, or the object as the API server has it now when `body` is the view our
        last status write already moved past (None: it is gone)."""
        meta = body["metadata"]
        version, written = meta.get("resourceVersion"), self.written_versions.get(meta["uid"])
        if version is None or written is None or not _older(str(version), *written):
            return body
        return await self.kube.get(Ref.of(body))

    def backing_off(self, uid: str, generation: int | None, now: datetime) -> Backoff | None:
        """The refusal still in its back-off for this generation; None: go ahead and write."""
        backoff = self.refusals.get(uid)
        if backoff is None or backoff.generation != generation or now >= backoff.retry_at:
            return None
        return backoff

    def refused(
        self, uid: str, generation: int | None, refusal: Refusal | None, now: datetime
    ) -> Backoff | None:
        """Record how the writes went: a refusal backs off longer each time; success clears it."""
        if refusal is None:
            self.refusals.pop(uid, None)
            return None
        backoff = Backoff.after(self.refusals.get(uid), generation, refusal, now)
        self.refusals[uid] = backoff
        return backoff

    def forget(self, uid: str) -> None:
        self.refusals.pop(uid, None)
        self.written.pop(uid, None)
        self.created.pop(uid, None)
        self.written_versions.pop(uid, None)
        self.locks.pop(uid, None)
        if (scheduled := self.wakes.pop(uid, None)) is not None:
            scheduled[1].cancel()


def _older(version: str, base: str, made: str) -> bool:
    """Whether the view at `version` predates our write (computed from `base`, making `made`).
    resourceVersions are opaque, but etcd's are its revision numbers, and every API server
    hands them out in order; when they are not numbers only the base itself is known old."""
    if version.isdigit() and made.isdigit():
        return int(version) < int(made)
    return version == base


async def _logged(reconcile: Awaitable[None]) -> None:
    """A woken reconcile that fails is logged; the next event or resync tries again."""
    try:
        await reconcile
    except Exception as error:  # nothing awaits this task to hand the error to
        logger.warning("A scheduled reconcile failed: %s", error)


def post(
    body: Mapping[str, Any], applied: Applied, events: Iterable[Event], logger: Logger
) -> None:
    """Log lines and Events on the owner for what was done and what needs a person's attention."""
    owner = kopf.Body(cast(kopf.RawBody, dict(body)))
    for verb, refs in (
        ("Created", applied.created),
        ("Updated", applied.patched),
        ("Deleted", applied.deleted),
    ):
        for ref in refs:
            logger.info(f"{verb} {ref}")
            kopf.event(owner, type="Normal", reason=verb, message=f"{verb} {ref}")
            metrics.WRITES.labels(ref.kind, verb.lower()).inc()
    for event in events:
        logger.info(f"{event.reason}: {event.message}")
        kopf.event(owner, type=event.type, reason=event.reason, message=event.message)


def retryable(error: KubeError, kind: str) -> kopf.TemporaryError:
    """An API failure as Kopf's temporary error: retried after the delay the server asked for."""
    metrics.RECONCILE_ERRORS.labels(kind, type(error).__name__).inc()
    if isinstance(error, UnavailableError) and error.retry_after is not None:
        return kopf.TemporaryError(str(error), delay=error.retry_after)
    if isinstance(error, ConflictError):
        return kopf.TemporaryError(str(error), delay=1)
    if isinstance(error, RejectedError):
        return kopf.TemporaryError(str(error), delay=60)
    return kopf.TemporaryError(str(error), delay=DEFAULT_RETRY_DELAY)
