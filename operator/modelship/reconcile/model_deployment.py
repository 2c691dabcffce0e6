"""Decide, from what is observed, what a ModelDeployment's children and status should be.

Pure: the observed state goes in, the actions and the new status come out.
Anything that stops the wanted revision from being built (an invalid spec, a
model that cannot be resolved, a name taken by someone else) is reported as
``Ready=False`` and leaves every child as it is, so the running revision keeps
serving. A revision whose pods cannot start (a missing credentials Secret, an
image that cannot be pulled, a failed model fetch) is reported from what the
kubelet says on its pods; the revision it would replace serves meanwhile.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from modelship.api.common import Condition, ConditionStatus
from modelship.api.model_deployment import (
    CanaryStatus,
    Endpoints,
    HistoryEntry,
    ModelDeployment,
    ModelDeploymentStatus,
    RevisionOutcome,
    RevisionStatus,
)
from modelship.api.retrain_job import RetrainJob
from modelship.builders import (
    Revision,
    UnresolvedModelError,
    build_model_deployment_children,
    resolve_model,
    revision_for,
)
from modelship.builders.defaults import GRPC_PORT, HTTP_PORT
from modelship.core.merge import status_patch, with_last_applied
from modelship.core.names import REVISION
from modelship.core.objects import Action, Event, Manifest, Ref
from modelship.reconcile import reasons
from modelship.reconcile.batch import batch_status, failure_events
from modelship.reconcile.children import diff_children
from modelship.reconcile.conditions import Verdict, find, merge_conditions
from modelship.reconcile.history import bounded
from modelship.reconcile.parsing import lenient, problems
from modelship.reconcile.pods import PodProblem, revision_problem
from modelship.reconcile.rollout import (
    Phase,
    Rollout,
    available_replicas,
    deadline_exceeded,
    ready_replicas,
    recreate,
    rollout_complete,
    stable_revision,
    wanted_replicas,
)


@dataclass(frozen=True)
class Observed:
    """What gather found."""

    body: Manifest  # the ModelDeployment as the API server has it
    children: Sequence[Manifest]  # the objects it controls (ownerReference with its uid)
    now: datetime
    retrain_job: Manifest | None = None  # the RetrainJob spec.model.fromRetrainJob names
    pods: Sequence[Manifest] = ()  # its Triton pods, of any revision (labelled with it)
    conflicts: frozenset[Ref] = frozenset()  # names we want that another owner holds
    batch_runs: Sequence[Manifest] = ()  # Jobs its batch CronJobs started
    # How the score container of a failed batch Job ended, by Job, where gather read its pods.
    batch_exits: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    actions: tuple[Action, ...]
    status: dict[str, Any]  # the whole status, as the operator writes it
    status_patch: dict[str, Any]  # empty when the status stays as it is
    events: tuple[Event, ...] = field(default=())


def decide(observed: Observed) -> Decision:
    body = observed.body
    generation = body["metadata"].get("generation")
    previous = lenient(ModelDeploymentStatus, body.get("status"))
    try:
        md = ModelDeployment.model_validate(
            {"metadata": body["metadata"], "spec": body.get("spec", {})}
        )
    except ValidationError as error:
        return _blocked(
            observed, previous, reasons.INVALID_SPEC, f"Invalid spec: {problems(error)}."
        )
    try:
        model = resolve_model(md, _retrain_job(observed.retrain_job))
    except UnresolvedModelError as error:
        return _blocked(observed, previous, reasons.MODEL_UNRESOLVED, f"{error}.")
    target = revision_for(md, model)
    deployments = {
        child["metadata"]["name"]: child
        for child in observed.children
        if child["kind"] == "Deployment"
    }
    rollout = recreate(md, target, stable_revision(md, previous, deployments), deployments)
    cannot_start = _cannot_start(rollout, observed.pods, md.metadata.namespace)
    desired = [
        with_last_applied(child) for child in build_model_deployment_children(md, rollout.plan)
    ]
    conflicts = [Ref.of(child) for child in desired if Ref.of(child) in observed.conflicts]
    if conflicts:
        names = ", ".join(str(ref) for ref in conflicts)
        message = f"{names} exists and is not owned by this ModelDeployment: rename or remove it."
        return _blocked(observed, previous, reasons.NAME_CONFLICT, message)

    actions = diff_children(desired, observed.children)
    stable_plan, canary_plan = rollout.plan.stable, rollout.plan.canary
    stable_live = deployments.get(stable_plan.revision.name)
    canary_live = deployments.get(canary_plan.revision.name) if canary_plan else None
    status = ModelDeploymentStatus(
        observed_generation=generation,
        conditions=merge_conditions(
            previous.conditions,
            _serving_verdicts(rollout, stable_live, canary_live, cannot_start),
            generation,
            observed.now,
        ),
        stable=_revision_status(stable_plan.revision, stable_live, stable_plan.replicas),
        canary=(
            CanaryStatus(
                **_revision_status(
                    canary_plan.revision, canary_live, canary_plan.replicas
                ).model_dump(),
                weight=canary_plan.weight,
            )
            if canary_plan
            else None
        ),
        endpoints=endpoints(md),
        history=_history(previous.history, rollout, stable_live, observed.now),
        batch=batch_status(
            md, observed.children, observed.batch_runs, previous.batch, observed.batch_exits
        ),
    )
    decision = _decision(previous, status, tuple(actions), rollout)
    events = failure_events(previous.batch, status.batch)
    return dataclasses.replace(decision, events=(*decision.events, *events))


def endpoints(md: ModelDeployment) -> Endpoints:
    host = f"{md.metadata.name}.{md.metadata.namespace}.svc"
    return Endpoints(http=f"http://{host}:{HTTP_PORT}", grpc=f"{host}:{GRPC_PORT}")


def _retrain_job(body: Manifest | None) -> RetrainJob | None:
    if body is None:
        return None
    try:
        return RetrainJob.model_validate(
            {
                "metadata": body["metadata"],
                "spec": body.get("spec", {}),
                "status": {"promoted": (body.get("status") or {}).get("promoted")},
            }
        )
    except ValidationError:
        return None


def _cannot_start(
    rollout: Rollout, pods: Sequence[Manifest], namespace: str
) -> tuple[Revision, PodProblem] | None:
    """A live revision whose pods cannot start, the new one looked at first, and why."""
    for plan in reversed(rollout.plan.live):
        own = [pod for pod in pods if pod["metadata"]["labels"].get(REVISION) == plan.revision.name]
        if (problem := revision_problem(own, namespace)) is not None:
            return plan.revision, problem
    return None


def _serving_verdicts(
    rollout: Rollout,
    stable_live: Manifest | None,
    canary_live: Manifest | None,
    cannot_start: tuple[Revision, PodProblem] | None,
) -> list[Verdict]:
    stable = rollout.plan.stable
    name = stable.revision.name
    version = stable.revision.model.version
    wanted = wanted_replicas(stable_live, stable.replicas)
    ready = ready_replicas(stable_live)
    available = available_replicas(stable_live)
    failed = deadline_exceeded(stable_live) or deadline_exceeded(canary_live)

    if available > 0 or (wanted == 0 and stable_live is not None):
        available_verdict = Verdict.true(
            reasons.AVAILABLE,
            reasons.MINIMUM_REPLICAS_AVAILABLE,
            f"Revision {name} (version {version}) has {available} of {wanted} pods available.",
        )
    else:
        available_verdict = Verdict.false(
            reasons.AVAILABLE,
            reasons.NO_REPLICAS_AVAILABLE,
            f"No pod of revision {name} (version {version}) is available yet.",
        )

    if rollout.phase == Phase.ROLLING_OUT and rollout.plan.canary is not None:
        new = rollout.plan.canary.revision
        reason = reasons.ROLLING_OUT
        message = (
            f"Revision {new.name} (version {new.model.version}) is starting; "
            f"{name} (version {version}) serves until it is available."
        )
    elif stable_live is None or not rollout_complete(stable_live):
        reason = reasons.WAITING_FOR_REPLICAS
        message = f"{ready} of {wanted} pods of revision {name} (version {version}) are ready."
    else:
        reason = reasons.ROLLOUT_COMPLETE
        message = f"Revision {name} (version {version}) runs {ready} of {wanted} pods, all ready."

    if failed:
        stuck = canary_live if deadline_exceeded(canary_live) else stable_live
        stuck_name = (stuck or {}).get("metadata", {}).get("name", name)
        message = f"{failed}. Check its pods: kubectl describe deployment {stuck_name}"
        degraded = Verdict.true(reasons.DEGRADED, reasons.ROLLOUT_FAILED, message)
    else:
        degraded = Verdict.false(reasons.DEGRADED, reasons.AS_EXPECTED, "Nothing is wrong.")

    if cannot_start is not None:
        return _stuck_verdicts(*cannot_start, available_verdict, available, wanted, stable.revision)
    if reason == reasons.ROLLOUT_COMPLETE:
        ready_verdict = Verdict.true(
            reasons.READY,
            reasons.SERVING,
            f"Revision {name} serves model version {version} on {ready} of {wanted} pods.",
        )
        progressing = Verdict.false(reasons.PROGRESSING, reason, message)
    else:
        ready_verdict = Verdict.false(
            reasons.READY, reasons.ROLLOUT_FAILED if failed else reason, message
        )
        progressing = Verdict.true(reasons.PROGRESSING, reason, message)
    return [ready_verdict, available_verdict, progressing, degraded]


def _stuck_verdicts(
    revision: Revision,
    problem: PodProblem,
    available_verdict: Verdict,
    available: int,
    wanted: int,
    serving: Revision,
) -> list[Verdict]:
    """Pods that cannot start: Ready only while pods of the stable revision serve."""
    version = revision.model.version
    message = (
        f"Pods of revision {revision.name} (version {version}) cannot start: {problem.message}"
    )
    if available > 0:
        ready = Verdict.true(
            reasons.READY,
            reasons.SERVING,
            f"Revision {serving.name} serves model version {serving.model.version} on "
            f"{available} of {wanted} pods. {message}",
        )
    else:
        ready = Verdict.false(reasons.READY, problem.reason, message)
    return [
        ready,
        available_verdict,
        Verdict.false(reasons.PROGRESSING, problem.reason, message),
        Verdict.true(reasons.DEGRADED, problem.reason, message),
    ]


def _blocked(
    observed: Observed, previous: ModelDeploymentStatus, reason: str, message: str
) -> Decision:
    """Nothing is touched; the status says why and what to do."""
    generation = observed.body["metadata"].get("generation")
    stable = previous.stable
    live = next(
        (
            child
            for child in observed.children
            if stable is not None
            and child["kind"] == "Deployment"
            and child["metadata"]["name"] == stable.name
        ),
        None,
    )
    if stable is not None and available_replicas(live) > 0:
        serving = f" Revision {stable.name} (version {stable.version}) keeps serving."
        available = Verdict.true(
            reasons.AVAILABLE,
            reasons.MINIMUM_REPLICAS_AVAILABLE,
            f"Revision {stable.name} (version {stable.version}) has "
            f"{available_replicas(live)} pods available.",
        )
    else:
        serving = ""
        available = Verdict.false(
            reasons.AVAILABLE, reasons.NO_REPLICAS_AVAILABLE, "No revision is serving."
        )
    verdicts = [
        Verdict.false(reasons.READY, reason, message + serving),
        available,
        Verdict.false(reasons.PROGRESSING, reason, "Nothing changes until this is fixed."),
        Verdict.true(reasons.DEGRADED, reason, message),
    ]
    status = previous.model_copy(
        update={
            "observed_generation": generation,
            "conditions": merge_conditions(previous.conditions, verdicts, generation, observed.now),
        }
    )
    return _decision(previous, status, (), None)


def _decision(
    previous: ModelDeploymentStatus,
    status: ModelDeploymentStatus,
    actions: tuple[Action, ...],
    rollout: Rollout | None,
) -> Decision:
    old, new = previous.to_wire(), status.to_wire()
    events = list(_flip_events(previous.conditions, status.conditions))
    if rollout is not None and rollout.retiring is not None:
        promoted = rollout.plan.stable.revision
        events.append(
            Event(
                "Normal",
                reasons.REVISION_PROMOTED,
                f"Revision {promoted.name} (version {promoted.model.version}) is available and "
                f"replaces {rollout.retiring.name} (version {rollout.retiring.model.version}).",
            )
        )
    return Decision(actions, new, status_patch(old, new), tuple(events))


def _flip_events(before: Sequence[Condition], after: Sequence[Condition]) -> list[Event]:
    """An Event when Ready flips, or keeps False for a new reason; a Warning when it is
    True but Degraded newly says something is wrong (a new revision cannot start)."""
    old, new = find(before, reasons.READY), find(after, reasons.READY)
    if new is None:
        return []
    if new.status == ConditionStatus.TRUE:
        events = [] if _same(old, new) else [Event("Normal", new.reason, new.message)]
        was, now = find(before, reasons.DEGRADED), find(after, reasons.DEGRADED)
        if now is not None and now.status == ConditionStatus.TRUE and not _same(was, now):
            events.append(Event("Warning", now.reason, now.message))
        return events
    quiet = {reasons.ROLLING_OUT, reasons.WAITING_FOR_REPLICAS}
    if _same(old, new) or new.reason in quiet:
        return []
    return [Event("Warning", new.reason, new.message)]


def _same(old: Condition | None, new: Condition) -> bool:
    return old is not None and (old.status, old.reason) == (new.status, new.reason)


def _revision_status(
    revision: Revision, live: Manifest | None, planned: int | None
) -> RevisionStatus:
    return RevisionStatus(
        name=revision.name,
        version=revision.model.version,
        uri=revision.model.uri,
        sha256=revision.model.sha256,
        replicas=wanted_replicas(live, planned),
        ready_replicas=ready_replicas(live),
    )


def _history(
    history: Sequence[HistoryEntry],
    rollout: Rollout,
    stable_live: Manifest | None,
    now: datetime,
) -> list[HistoryEntry]:
    """The stable revision on top as Serving; the one it replaced, Superseded."""
    revision = rollout.plan.stable.revision
    if history and history[0].revision == revision.name:
        return list(history)
    entries = [
        entry.model_copy(update={"outcome": RevisionOutcome.SUPERSEDED})
        if entry.outcome == RevisionOutcome.SERVING
        else entry
        for entry in history
    ]
    model = revision.model
    created = (stable_live or {}).get("metadata", {}).get("creationTimestamp")
    entry = HistoryEntry(
        revision=revision.name,
        version=model.version,
        uri=model.uri,
        sha256=model.sha256,
        lineage=model.lineage,
        deployed_at=created or now,
        outcome=RevisionOutcome.SERVING,
    )
    return bounded([entry, *entries])
