"""Decide, from what is observed, what a ModelDeployment's children and status should be.

Pure: the observed state goes in, the actions and the new status come out.
Anything that stops the wanted revision from being built (an invalid spec, a
model that cannot be resolved, a name taken by someone else) is reported as
``Ready=False`` and leaves every child as it is, so the running revision keeps
serving. A revision whose pods cannot start (a missing credentials Secret, an
image that cannot be pulled, a failed model fetch) is reported from what the
kubelet says on its pods; the revision it would replace serves meanwhile. A
child the API server refused to write (422, or 403 from admission) blocks like an
invalid spec, with the server's words: the executor hands the refusal back in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from modelship.api.common import Condition, ConditionStatus
from modelship.api.model_deployment import (
    CanaryStatus,
    Endpoints,
    ModelDeployment,
    ModelDeploymentStatus,
    RevisionOutcome,
    RevisionStatus,
)
from modelship.api.model_deployment_status import RequestCounters
from modelship.api.retrain_job import RetrainJob
from modelship.builders import (
    Revision,
    RevisionPlan,
    UnresolvedModelError,
    build_model_deployment_children,
    resolve_model,
    revision_for,
)
from modelship.builders.defaults import GRPC_PORT, HTTP_PORT
from modelship.core.merge import status_patch, with_last_applied
from modelship.core.names import REVISION
from modelship.core.objects import Action, Event, Manifest, Ref, Refusal
from modelship.reconcile import reasons
from modelship.reconcile.batch import batch_status, failure_events
from modelship.reconcile.children import diff_children
from modelship.reconcile.conditions import Cause, find, merge_conditions
from modelship.reconcile.decision import Decision
from modelship.reconcile.drift import (
    by_job,
    decide_drift,
    drift_events,
    runs_to_judge,
    without_drifted,
)
from modelship.reconcile.history import revision_history
from modelship.reconcile.mirrored_drift import LiveReading, decide_live
from modelship.reconcile.parsing import lenient, problems, typed
from modelship.reconcile.pods import revision_problem
from modelship.reconcile.readiness import Facts, pods_cannot_start, verdicts
from modelship.reconcile.rollout import (
    GateRun,
    Phase,
    Rollout,
    RolloutState,
    available_replicas,
    deadline_exceeded,
    ready_replicas,
    rollout_complete,
    stable_revision,
    strategy_for,
    wanted_replicas,
)
from modelship.reconcile.rollout.commands import new_command


@dataclass(frozen=True)
class Observed:
    """What gather found."""

    body: Manifest  # the ModelDeployment as the API server has it
    children: Sequence[Manifest]  # the objects it controls (ownerReference with its uid)
    now: datetime
    retrain_job: Manifest | None = None  # the RetrainJob spec.model.fromRetrainJob names
    pods: Sequence[Manifest] = ()  # its Triton pods, of any revision (labelled with it)
    conflicts: frozenset[Ref] = frozenset()  # names we want that another owner holds
    refused: Refusal | None = None  # the child the API server refused to write just now
    batch_runs: Sequence[Manifest] = ()  # Jobs its batch CronJobs started
    # How the score container of a failed batch Job ended, by Job, where gather read its pods.
    batch_exits: Mapping[str, str] = field(default_factory=dict)
    # The score container's termination message (its drift summary), by finished batch Job,
    # for the Jobs drift.runs_to_judge named.
    batch_drift: Mapping[str, str] = field(default_factory=dict)
    # The spec as gather parsed it, so that a reconcile parses it once; None: decide parses.
    spec: ModelDeployment | ValidationError | None = None
    # The image of the fetch init container (the operator's); None: the serving image.
    fetch_image: str | None = None
    # Triton's counters summed over each live revision's ready pods, by revision name,
    # where gather scraped them (a canary's analysis reads them).
    metrics: Mapping[str, RequestCounters] = field(default_factory=dict)
    # Finished prediction gate Jobs, by name: how their compare container ended.
    gate_runs: Mapping[str, GateRun] = field(default_factory=dict)
    # Mirrored live drift: since when the drift-watch pod is ready (None: it is not), and its
    # window, where gather read it because a live check was due.
    drift_watch_ready_since: datetime | None = None
    live_drift: LiveReading = field(default_factory=LiveReading)


def parse(body: Manifest) -> ModelDeployment | ValidationError:
    """The ModelDeployment's metadata and spec, typed; or why they are not valid."""
    return typed(ModelDeployment, body)


def decide(observed: Observed) -> Decision:
    body = observed.body
    generation = body["metadata"].get("generation")
    previous = lenient(ModelDeploymentStatus, body.get("status"))
    md = observed.spec if observed.spec is not None else parse(body)
    if isinstance(md, ValidationError):
        return _blocked(observed, previous, reasons.INVALID_SPEC, f"Invalid spec: {problems(md)}.")
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
    stable = stable_revision(md, previous, deployments)
    rolled_back = {
        entry.revision: entry.message or "rolled back"
        for entry in previous.history
        if entry.outcome == RevisionOutcome.ROLLED_BACK
    }
    command = new_command(body["metadata"].get("annotations"), previous.rollout_command)
    rollout = strategy_for(md).step(
        RolloutState(
            md,
            target,
            stable,
            deployments,
            observed.now,
            canary=previous.canary,
            metrics=observed.metrics,
            rolled_back=rolled_back,
            command=command,
            gate_runs=observed.gate_runs,
        )
    )
    cannot_start = _cannot_start(rollout, observed.pods, md.metadata.namespace)
    desired = [
        with_last_applied(child)
        for child in build_model_deployment_children(md, rollout.plan, observed.fetch_image)
    ]
    conflicts = [Ref.of(child) for child in desired if Ref.of(child) in observed.conflicts]
    if conflicts:
        names = ", ".join(str(ref) for ref in conflicts)
        message = f"{names} exists and is not owned by this ModelDeployment: rename or remove it."
        return _blocked(observed, previous, reasons.NAME_CONFLICT, message)
    if observed.refused is not None:
        return _blocked(observed, previous, reasons.CHILD_REJECTED, observed.refused.explanation)

    actions = diff_children(desired, observed.children)
    stable_plan, canary_plan = rollout.plan.stable, rollout.plan.canary
    stable_live = deployments.get(stable_plan.revision.name)
    canary_live = deployments.get(canary_plan.revision.name) if canary_plan else None
    live = decide_live(
        md,
        previous.drift,
        stable_plan.revision.name,
        observed.drift_watch_ready_since,
        observed.live_drift,
        observed.now,
    )
    drift = decide_drift(
        md,
        previous.drift,
        by_job(runs_to_judge(md, previous.drift, observed.batch_runs), observed.batch_drift),
        live.check,
        live.note,
        live.reason,
    )
    conditions = verdicts(_facts(rollout, stable_live, canary_live, cannot_start))
    status = ModelDeploymentStatus(
        observed_generation=generation,
        conditions=merge_conditions(
            previous.conditions if drift.verdict else without_drifted(previous.conditions),
            [*conditions, drift.verdict] if drift.verdict else conditions,
            generation,
            observed.now,
        ),
        stable=_revision_status(stable_plan.revision, stable_live, stable_plan.replicas),
        canary=(_canary_status(rollout, canary_plan, canary_live) if canary_plan else None),
        endpoints=endpoints(md),
        rollout_command=command.value if command else previous.rollout_command,
        history=revision_history(previous.history, rollout, stable_live, canary_live, observed.now),
        batch=batch_status(
            md, observed.children, observed.batch_runs, previous.batch, observed.batch_exits
        ),
        drift=drift.status,
    )
    decision = _decision(previous, status, tuple(actions), rollout, live.wake_at)
    batch_events = failure_events(previous.batch, status.batch)
    drifted = drift_events(previous.conditions, status.conditions)
    return dataclasses.replace(
        decision, events=(*rollout.events, *decision.events, *batch_events, *drifted)
    )


def _canary_status(rollout: Rollout, plan: RevisionPlan, live: Manifest | None) -> CanaryStatus:
    progress = rollout.canary
    recorded = _revision_status(plan.revision, live, plan.replicas).model_dump()
    if progress is None:  # Recreate: the new revision starts at weight 0
        return CanaryStatus(**recorded, weight=plan.weight)
    return CanaryStatus(
        **recorded,
        weight=plan.weight,
        step=progress.step,
        step_started_at=progress.step_started_at,
        failed_analyses=progress.tally.failed,
        failed_latency_analyses=progress.tally.failed_on_timing,
        window=progress.window,
        analyses=list(progress.analyses),
        paused=progress.paused,
        prediction_gate=progress.prediction_gate,
    )


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


def _cannot_start(rollout: Rollout, pods: Sequence[Manifest], namespace: str) -> Cause | None:
    """A live revision whose pods cannot start, the new one looked at first, and why."""
    for plan in reversed(rollout.plan.live):
        own = [pod for pod in pods if pod["metadata"]["labels"].get(REVISION) == plan.revision.name]
        if (problem := revision_problem(own, namespace)) is not None:
            return pods_cannot_start(plan.revision, problem)
    return None


def _facts(
    rollout: Rollout,
    stable_live: Manifest | None,
    canary_live: Manifest | None,
    cannot_start: Cause | None,
) -> Facts:
    stable = rollout.plan.stable
    stuck = canary_live if deadline_exceeded(canary_live) else stable_live
    canary = rollout.plan.canary
    return Facts(
        progress=rollout.progressing,
        canary_failed=rollout.rolled_back.message if rollout.rolled_back else None,
        name=stable.revision.name,
        version=stable.revision.model.version,
        wanted=wanted_replicas(stable_live, stable.replicas),
        ready=ready_replicas(stable_live),
        available=available_replicas(stable_live),
        stable_live=stable_live is not None,
        rolling_out_to=(
            canary.revision if rollout.phase == Phase.ROLLING_OUT and canary is not None else None
        ),
        complete=stable_live is not None and rollout_complete(stable_live),
        failed=deadline_exceeded(stable_live) or deadline_exceeded(canary_live),
        stuck_deployment=(stuck or {}).get("metadata", {}).get("name", stable.revision.name),
        cannot_start=cannot_start,
    )


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
    facts = Facts(
        name=stable.name if stable is not None else "",
        version=stable.version if stable is not None else "",
        wanted=0,
        ready=0,
        available=available_replicas(live),
        stable_live=live is not None,
        blocker=Cause(reason, message),
    )
    status = previous.model_copy(
        update={
            "observed_generation": generation,
            "conditions": merge_conditions(
                previous.conditions, verdicts(facts), generation, observed.now
            ),
        }
    )
    return _decision(previous, status, (), None)


def _decision(
    previous: ModelDeploymentStatus,
    status: ModelDeploymentStatus,
    actions: tuple[Action, ...],
    rollout: Rollout | None,
    drift_wake_at: datetime | None = None,
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
    wakes = [at for at in (rollout.wake_at if rollout else None, drift_wake_at) if at is not None]
    wake_at = min(wakes, default=None)
    return Decision(actions, new, status_patch(old, new), tuple(events), wake_at)


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
    # Progress is not a warning; a canary's steps have Events of their own.
    quiet = {
        reasons.ROLLING_OUT,
        reasons.WAITING_FOR_REPLICAS,
        reasons.CANARY_STEP,
        reasons.ANALYZING,
        reasons.PAUSED,
        reasons.PROMOTING,
        reasons.PREDICTION_GATE,
    }
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
