"""A ModelDeployment's conditions, each derived from the same facts by one small function.

`Available`, `Progressing` and `Degraded` each look at the facts alone; `Ready` is
derived from them in one place. Each function is a chain of checks, the first
that applies decides (a blocked spec, then pods that cannot start, then the
rollout itself). A new condition is one more function in `DEPENDENTS`. Drifted
(reconcile/drift.py) is not one: it is about the data, not the rollout, and Ready does not
depend on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from modelship.builders import Revision
from modelship.reconcile import reasons
from modelship.reconcile.conditions import Cause, Verdict
from modelship.reconcile.pods import PodProblem


def pods_cannot_start(revision: Revision, problem: PodProblem) -> Cause:
    """Why a live revision's pods cannot start, as the kubelet reports on them."""
    version = revision.model.version
    return Cause(
        problem.reason,
        f"Pods of revision {revision.name} (version {version}) cannot start: {problem.message}",
    )


@dataclass(frozen=True)
class Facts:
    """What the conditions are derived from, gathered from the rollout and its Deployments."""

    name: str  # the stable revision (when blocked: the one the status recorded)
    version: str
    wanted: int
    ready: int
    available: int
    stable_live: bool  # its Deployment exists
    rolling_out_to: Revision | None = None  # a new revision starting beside the stable one
    complete: bool = False  # the stable Deployment's rollout is complete
    failed: str | None = None  # the Deployment controller's "no progress in time" message
    stuck_deployment: str = ""  # the Deployment that made no progress
    cannot_start: Cause | None = None  # a live revision's pods cannot start (pods_cannot_start)
    # Why the wanted revision cannot be built at all; every child stays as it is.
    blocker: Cause | None = None
    # A rollout strategy's own step (Progressing's reason and message), e.g. a canary's.
    progress: tuple[str, str] | None = None
    # Why the wanted revision, a canary, was rolled back (the stable one serves alone).
    canary_failed: str | None = None


# Progressing reasons of a rollout that has nothing left to do.
SETTLED = frozenset({reasons.ROLLOUT_COMPLETE, reasons.ROLLED_BACK})


def available(facts: Facts) -> Verdict:
    serving = f"Revision {facts.name} (version {facts.version})"
    if facts.blocker is not None:
        if facts.available > 0:
            return Verdict.true(
                reasons.AVAILABLE,
                reasons.MINIMUM_REPLICAS_AVAILABLE,
                f"{serving} has {facts.available} pods available.",
            )
        return Verdict.false(
            reasons.AVAILABLE, reasons.NO_REPLICAS_AVAILABLE, "No revision is serving."
        )
    if facts.available > 0 or (facts.wanted == 0 and facts.stable_live):
        return Verdict.true(
            reasons.AVAILABLE,
            reasons.MINIMUM_REPLICAS_AVAILABLE,
            f"{serving} has {facts.available} of {facts.wanted} pods available.",
        )
    return Verdict.false(
        reasons.AVAILABLE,
        reasons.NO_REPLICAS_AVAILABLE,
        f"No pod of revision {facts.name} (version {facts.version}) is available yet.",
    )


def progressing(facts: Facts) -> Verdict:
    if facts.blocker is not None:
        return Verdict.false(
            reasons.PROGRESSING, facts.blocker.reason, "Nothing changes until this is fixed."
        )
    if facts.cannot_start is not None:
        stuck = facts.cannot_start
        return Verdict.false(reasons.PROGRESSING, stuck.reason, stuck.message)
    reason, message = _rollout_step(facts)
    if reason in SETTLED:
        return Verdict.false(reasons.PROGRESSING, reason, message)
    return Verdict.true(reasons.PROGRESSING, reason, message)


def degraded(facts: Facts) -> Verdict:
    if facts.blocker is not None:
        return Verdict.true(reasons.DEGRADED, facts.blocker.reason, facts.blocker.message)
    if facts.cannot_start is not None:
        stuck = facts.cannot_start
        return Verdict.true(reasons.DEGRADED, stuck.reason, stuck.message)
    if facts.failed:
        message = (
            f"{facts.failed}. Check its pods: kubectl describe deployment {facts.stuck_deployment}"
        )
        return Verdict.true(reasons.DEGRADED, reasons.ROLLOUT_FAILED, message)
    if facts.canary_failed:
        return Verdict.true(reasons.DEGRADED, reasons.CANARY_FAILED, facts.canary_failed)
    return Verdict.false(reasons.DEGRADED, reasons.AS_EXPECTED, "Nothing is wrong.")


def ready(facts: Facts, dependents: Mapping[str, Verdict]) -> Verdict:
    """Serving or not, from what the other conditions say and the pods that serve."""
    progress, degradation = dependents[reasons.PROGRESSING], dependents[reasons.DEGRADED]
    if facts.blocker is not None:
        keeps = (
            f" Revision {facts.name} (version {facts.version}) keeps serving."
            if facts.available > 0
            else ""
        )
        return Verdict.false(reasons.READY, degradation.reason, degradation.message + keeps)
    if facts.cannot_start is not None:
        if facts.available > 0:
            return Verdict.true(
                reasons.READY,
                reasons.SERVING,
                f"Revision {facts.name} serves model version {facts.version} on "
                f"{facts.available} of {facts.wanted} pods. {degradation.message}",
            )
        return Verdict.false(reasons.READY, degradation.reason, degradation.message)
    # A canary runs beside a stable revision that serves with every pod: still Ready.
    if progress.reason in SETTLED or (facts.progress is not None and facts.complete):
        return Verdict.true(
            reasons.READY,
            reasons.SERVING,
            f"Revision {facts.name} serves model version {facts.version} on "
            f"{facts.ready} of {facts.wanted} pods.",
        )
    reason = reasons.ROLLOUT_FAILED if facts.failed else progress.reason
    return Verdict.false(reasons.READY, reason, progress.message)


# The conditions Ready is derived from, in the order the status lists them after Ready.
DEPENDENTS: tuple[Callable[[Facts], Verdict], ...] = (available, progressing, degraded)


def verdicts(facts: Facts) -> list[Verdict]:
    """Every condition: Ready first, then its dependents."""
    dependents = [condition(facts) for condition in DEPENDENTS]
    return [ready(facts, {verdict.type: verdict for verdict in dependents}), *dependents]


def _rollout_step(facts: Facts) -> tuple[str, str]:
    serving = f"{facts.name} (version {facts.version})"
    if facts.progress is not None:
        return facts.progress
    if facts.rolling_out_to is not None:
        new = facts.rolling_out_to
        return reasons.ROLLING_OUT, (
            f"Revision {new.name} (version {new.model.version}) is starting; "
            f"{serving} serves until it is available."
        )
    if not facts.stable_live or not facts.complete:
        return reasons.WAITING_FOR_REPLICAS, (
            f"{facts.ready} of {facts.wanted} pods of revision {serving} are ready."
        )
    if facts.canary_failed:
        return reasons.ROLLED_BACK, (
            f"Revision {serving} runs {facts.ready} of {facts.wanted} pods, all ready; "
            "the canary was rolled back."
        )
    return reasons.ROLLOUT_COMPLETE, (
        f"Revision {serving} runs {facts.ready} of {facts.wanted} pods, all ready."
    )
