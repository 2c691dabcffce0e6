"""Canary: the new revision takes `canary.steps` shares of traffic in turn, each judged
against the stable revision on Triton's own counters; it is promoted after the last step
and rolled back when more measurements fail than `analysis.failureLimit` tolerates.

Pure: the state lives in `status.canary` (step, when it started, the measurement window
in progress, the latest results), so an operator restart resumes where it was. A step
with a pause holds its weight for that long; a step with a zero pause waits for a
passed measurement. Traffic reaches the canary only while it has a ready pod, and the
stable revision keeps every pod it had until the canary is promoted.

Replicas router: the canary's share is approximated by pod counts behind the stable
Service. With S stable pods, weight w gives the canary round(S*w/(100-w)) pods (at
least one), so its share is c/(S+c): within half a pod's share of w (for S=4, 10%
becomes 1 pod, 20%; 50% becomes 4 pods, 50%). With an autoscaler, the autoscalers
decide the counts and the share is theirs.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from modelship.api.model_deployment_status import (
    AnalysisOutcome,
    AnalysisResult,
    AnalysisWindow,
    CanaryStatus,
    GatePhase,
    PredictionGateStatus,
    RequestCounters,
)
from modelship.api.rollout import CanarySpec, PredictionGate, TrafficRouter
from modelship.builders import Revision, RevisionPlan, RolloutPlan, steady_plan
from modelship.builders.defaults import canary_settings
from modelship.builders.prediction_gate import prediction_gate_job_name
from modelship.core.objects import Event
from modelship.reconcile import reasons
from modelship.reconcile.rollout.analysis import duration, judge, window
from modelship.reconcile.rollout.base import (
    CanaryProgress,
    GateRun,
    Phase,
    RolledBack,
    Rollout,
    RolloutState,
)
from modelship.reconcile.rollout.commands import Action, Command
from modelship.reconcile.rollout.deployments import ready_replicas, rollout_complete

# Measurements kept in status.canary.analyses (the API's maxItems).
ANALYSES_KEPT = 10
# A gate Job past its own deadline is failed by the Job controller; past this much more
# with no verdict read, the operator stops waiting (a Job deleted by hand, say).
GATE_GRACE = timedelta(minutes=1)
# Room kept for the gate's message in status (the API's maxLength is 1024).
GATE_MESSAGE_CHARS = 600


class Canary:
    """The Canary strategy."""

    def step(self, state: RolloutState) -> Rollout:
        return canary_step(state)


def canary_step(state: RolloutState) -> Rollout:
    md, target, stable = state.md, state.target, state.stable
    settings = canary_settings(md.spec.rollout)
    assert settings is not None  # strategy_for picks Canary only for strategy Canary
    steady = steady_plan(md, target.model)
    if stable is None or stable.name == target.name:
        return Rollout(steady, Phase.STEADY)
    command = state.command
    if (why := state.rolled_back.get(target.name)) is not None:
        if command is None or command.action != Action.RETRY:
            kept = RolloutPlan(stable=RevisionPlan(stable, replicas=steady.stable.replicas))
            return Rollout(kept, Phase.STEADY, rolled_back=RolledBack(target, why))
        heard = _heard(command, f"revision {target.name} tries again from the first step")
        retried = _stepping(state, settings, _progress(None), None)
        return dataclasses.replace(retried, retried=target, events=(heard, *retried.events))
    previous = state.canary if state.canary and state.canary.name == target.name else None
    progress = _progress(previous)
    heard_events: tuple[Event, ...] = ()
    if command is not None:
        if command.action == Action.ABORT:
            return _rollback(
                state,
                steady.stable.replicas,
                f"Canary revision {target.name} (version {target.model.version}) was "
                f"aborted by a rollout command ({command.value}). It is not retried until the "
                "model changes or a retry command.",
                _heard(command, f"canary revision {target.name} is rolled back"),
            )
        progress, heard = _commanded(command, progress, len(settings.steps), target)
        heard_events = (heard,)
    if progress.step >= len(settings.steps):
        promoting = _promoting(state, settings, progress, previous)
    else:
        promoting = _stepping(state, settings, progress, previous)
    return dataclasses.replace(promoting, events=(*heard_events, *promoting.events))


def _commanded(
    command: Command, progress: CanaryProgress, steps: int, target: Revision
) -> tuple[CanaryProgress, Event]:
    """Progress after pause, resume or promote (retry has nothing to retry here)."""
    if command.action == Action.PAUSE:
        return dataclasses.replace(progress, paused=True), _heard(
            command, f"canary revision {target.name} holds its step until resumed"
        )
    if command.action == Action.RESUME:
        return dataclasses.replace(progress, paused=False), _heard(
            command, f"canary revision {target.name} walks its steps again"
        )
    if command.action == Action.PROMOTE:
        promoted = dataclasses.replace(progress, step=steps, step_started_at=None, paused=False)
        return promoted, _heard(
            command, f"canary revision {target.name} skips its remaining steps and takes over"
        )
    return progress, _heard(command, f"canary revision {target.name} was not rolled back: ignored")


def _heard(command: Command, what: str) -> Event:
    return Event("Normal", reasons.ROLLOUT_COMMAND, f"Rollout command {command.value}: {what}.")


def _progress(previous: CanaryStatus | None) -> CanaryProgress:
    if previous is None:
        return CanaryProgress(0, None, 0, None, ())
    return CanaryProgress(
        previous.step,
        previous.step_started_at,
        previous.failed_analyses,
        previous.window,
        tuple(previous.analyses),
        previous.paused,
        previous.prediction_gate,
    )


def _stepping(
    state: RolloutState,
    settings: CanarySpec,
    progress: CanaryProgress,
    previous: CanaryStatus | None,
) -> Rollout:
    target, stable, now = state.target, state.stable, state.now
    assert stable is not None
    total = steady_plan(state.md, target.model).stable.replicas
    steps = settings.steps
    index = progress.step
    events = [] if previous is not None else [_started(target, stable, settings)]
    if ready_replicas(state.deployments.get(target.name)) == 0:
        # No traffic to a canary with no ready pod; its step starts again when one is.
        waiting = dataclasses.replace(progress, step_started_at=None, window=None)
        gating = progress.prediction_gate is not None and (
            progress.prediction_gate.phase == GatePhase.RUNNING
        )  # a gate Job that runs is kept: it waits for the canary's Service itself
        return Rollout(
            _plan(settings, stable, target, total, index, weight=0, prediction_gate=gating),
            Phase.ROLLING_OUT,
            canary=waiting,
            progressing=(
                reasons.CANARY_STEP,
                f"Canary revision {target.name} (version {target.model.version}) has no ready "
                f"pod yet; it gets {steps[index].weight}% of traffic (step {index + 1} of "
                f"{len(steps)}) once one is. {stable.name} serves meanwhile.",
            ),
            events=tuple(events),
        )
    gate = settings.prediction_gate
    if gate is not None and progress.step_started_at is None and _gate_pending(progress):
        gated = _gate(state, settings, gate, progress, total, events)
        if isinstance(gated, Rollout):
            return gated
        progress = gated
    if progress.step_started_at is None:
        progress = dataclasses.replace(progress, step_started_at=now, window=_open(state, now))
        events.append(
            Event(
                "Normal",
                reasons.CANARY_STEP,
                f"Canary revision {target.name} receives {steps[index].weight}% of traffic "
                f"(step {index + 1} of {len(steps)}).",
            )
        )
    progress, result = _measure(state, settings, progress)
    if result is not None and result.outcome == AnalysisOutcome.FAILED:
        events.append(Event("Warning", reasons.ANALYSIS_FAILED, result.message))
        if progress.failed_analyses > settings.analysis.failure_limit:
            return _rollback(
                state,
                total,
                f"Canary revision {target.name} (version {target.model.version}) was rolled "
                f"back after {progress.failed_analyses} failed measurements; the last: "
                f"{result.message}. It is not retried until the model changes or a retry "
                "command.",
            )
    pause = duration(steps[index].pause)
    started = progress.step_started_at
    assert started is not None
    step_passed = any(
        r.step == index and r.outcome == AnalysisOutcome.PASSED for r in progress.analyses
    )
    just_failed = result is not None and result.outcome == AnalysisOutcome.FAILED
    done = (now >= started + pause) if pause else step_passed
    if done and not just_failed and not progress.paused:
        following = index + 1
        advanced = dataclasses.replace(
            progress,
            step=following,
            step_started_at=now if following < len(steps) else None,
            window=_open(state, now),
        )
        if following == len(steps):
            events.append(_promoting_event(target, total, len(steps)))
            return _promoting(state, settings, advanced, previous, tuple(events))
        events.append(
            Event(
                "Normal",
                reasons.CANARY_STEP,
                f"Canary revision {target.name} receives {steps[following].weight}% of traffic "
                f"(step {following + 1} of {len(steps)}).",
            )
        )
        return _holding(state, settings, advanced, total, tuple(events))
    return _holding(state, settings, progress, total, tuple(events))


def _gate_pending(progress: CanaryProgress) -> bool:
    """The gate has yet to pass: before the first step's traffic, and not passed before."""
    passed = progress.prediction_gate is not None and (
        progress.prediction_gate.phase == GatePhase.PASSED
    )
    return progress.step == 0 and not passed


def _gate(
    state: RolloutState,
    settings: CanarySpec,
    gate: PredictionGate,
    progress: CanaryProgress,
    total: int | None,
    events: list[Event],
) -> Rollout | CanaryProgress:
    """Before any traffic, the gate Job compares the canary's answers with stable's: the
    canary holds weight 0 while it runs, and is rolled back on a failed verdict, an error
    or no verdict in time. Passed: the progress, to walk the first step from."""
    target, stable, now = state.target, state.stable, state.now
    assert stable is not None
    job = prediction_gate_job_name(state.md, gate, stable, target)
    status = progress.prediction_gate
    if status is None or status.job != job:  # not yet asked for, or for other bounds or data
        status = PredictionGateStatus(phase=GatePhase.RUNNING, job=job, started_at=now)
        events.append(
            Event(
                "Normal",
                reasons.PREDICTION_GATE,
                f"Canary revision {target.name} answers {gate.rows} reference rows beside "
                f"{stable.name} before any traffic (Job {job}).",
            )
        )
    who = f"Canary revision {target.name} (version {target.model.version})"
    run = state.gate_runs.get(job)
    if run is None:
        deadline = status.started_at + duration(gate.timeout) + GATE_GRACE
        if now >= deadline:
            return _rollback(
                state,
                total,
                f"{who} was rolled back: its prediction gate gave no verdict within "
                f"{gate.timeout}. No traffic reached it. It is not retried until the model "
                "changes or a retry command.",
                *events,
            )
        return Rollout(
            _plan(settings, stable, target, total, 0, weight=0, prediction_gate=True),
            Phase.ROLLING_OUT,
            wake_at=deadline,
            canary=dataclasses.replace(progress, prediction_gate=status),
            progressing=(
                reasons.PREDICTION_GATE,
                f"{who} answers reference rows beside {stable.name} (Job {job}) before it "
                f"gets {settings.steps[0].weight}% of traffic.",
            ),
            events=tuple(events),
        )
    passed, measured = gate_verdict(run)
    if not passed:
        return _rollback(
            state,
            total,
            f"{who} was rolled back by its prediction gate, before any traffic: {measured}. "
            "It is not retried until the model changes or a retry command.",
            *events,
        )
    events.append(
        Event("Normal", reasons.PREDICTION_GATE, f"{who} passed its prediction gate: {measured}.")
    )
    done = status.model_copy(update={"phase": GatePhase.PASSED, "message": measured})
    return dataclasses.replace(progress, prediction_gate=done)


def gate_verdict(run: GateRun) -> tuple[bool, str]:
    """Whether a gate Job passed, and what it measured (or why it could not), from the
    termination message `modelship compare` writes."""
    try:
        result = json.loads(run.message)
    except ValueError:
        result = None
    if not isinstance(result, dict):
        text = " ".join(run.message.split())[:GATE_MESSAGE_CHARS]
        return False, f"its Job ended with no result ({text or 'no message'})"
    if "error" in result:
        error = str(result["error"])[:GATE_MESSAGE_CHARS]
        return False, f"it could not compare the revisions: {error}"
    summary = str(result.get("summary") or "no measurement")[:GATE_MESSAGE_CHARS]
    return run.succeeded and result.get("verdict") == "passed", summary


def _holding(
    state: RolloutState,
    settings: CanarySpec,
    progress: CanaryProgress,
    total: int | None,
    events: tuple[Event, ...],
) -> Rollout:
    """The canary holds its step's weight until the pause ends or a measurement passes."""
    target, stable = state.target, state.stable
    assert stable is not None
    assert progress.step_started_at is not None
    steps, index = settings.steps, progress.step
    pause = duration(steps[index].pause)
    where = f"step {index + 1} of {len(steps)}, {steps[index].weight}% of traffic"
    wakes = [_next_measurement(state, settings, progress)]
    if progress.paused:
        reason = reasons.PAUSED
        message = (
            f"Canary revision {target.name} holds {where}: paused by a rollout command until "
            "resumed or promoted (kubectl modelship resume|promote)."
        )
    elif pause:
        ends = progress.step_started_at + pause
        wakes.append(ends)
        reason = reasons.PAUSED
        until = ends.strftime("%Y-%m-%dT%H:%M:%SZ")
        message = f"Canary revision {target.name} holds {where} until {until}."
    else:
        reason = reasons.ANALYZING
        message = f"Canary revision {target.name} holds {where} until a measurement passes."
    if progress.analyses:
        last = progress.analyses[0]
        message += f" Last measurement: {last.outcome}: {last.message}."
    return Rollout(
        _plan(settings, stable, target, total, index, weight=steps[index].weight),
        Phase.ROLLING_OUT,
        wake_at=min(wake for wake in wakes if wake is not None),
        canary=progress,
        progressing=(reason, message),
        events=events,
    )


def _promoting(
    state: RolloutState,
    settings: CanarySpec,
    progress: CanaryProgress,
    previous: CanaryStatus | None,
    events: tuple[Event, ...] = (),
) -> Rollout:
    """Every step passed: the canary scales to the stable's size, then takes over."""
    target, stable = state.target, state.stable
    assert stable is not None
    steady = steady_plan(state.md, target.model)
    total = steady.stable.replicas
    live = state.deployments.get(target.name)
    if live is not None and rollout_complete(live) and _sized(live, total):
        return Rollout(steady, Phase.PROMOTED, retiring=stable, events=events)
    last = settings.steps[-1].weight
    weight = last if ready_replicas(live) else 0
    plan = RolloutPlan(
        stable=RevisionPlan(stable, replicas=total, weight=100 - weight),
        canary=RevisionPlan(target, replicas=total, weight=weight),
    )
    return Rollout(
        plan,
        Phase.ROLLING_OUT,
        canary=progress,
        progressing=(
            reasons.PROMOTING,
            f"Canary revision {target.name} passed all {len(settings.steps)} steps and scales "
            f"to {'its autoscaler' if total is None else f'{total} pods'} before it takes over "
            f"from {stable.name}.",
        ),
        events=events,
    )


def _rollback(state: RolloutState, total: int | None, message: str, *events: Event) -> Rollout:
    target, stable = state.target, state.stable
    assert stable is not None
    kept = RolloutPlan(stable=RevisionPlan(stable, replicas=total))
    return Rollout(kept, Phase.STEADY, rolled_back=RolledBack(target, message), events=events)


def _measure(
    state: RolloutState, settings: CanarySpec, progress: CanaryProgress
) -> tuple[CanaryProgress, AnalysisResult | None]:
    """A measurement when the window is an interval old and both revisions were scraped."""
    now = state.now
    if progress.window is None:
        return _with_window(progress, _open(state, now)), None
    due = progress.window.started_at + duration(settings.analysis.interval)
    current = _counters(state)
    if now < due or current is None:
        return progress, None
    stable_now, canary_now = current
    canary = window(progress.window.canary, canary_now)
    stable = window(progress.window.stable, stable_now)
    verdict = judge(settings.analysis, canary, stable)
    result = AnalysisResult(
        at=now, step=progress.step, outcome=verdict.outcome, message=verdict.message
    )
    few_requests = verdict.outcome == AnalysisOutcome.INCONCLUSIVE and None not in (canary, stable)
    # Too few requests: the window grows until there are enough; otherwise a new one opens.
    opened = progress.window if few_requests else _open(state, now)
    failed = progress.failed_analyses + (verdict.outcome == AnalysisOutcome.FAILED)
    analyses = (result, *progress.analyses)[:ANALYSES_KEPT]
    measured = dataclasses.replace(
        progress, failed_analyses=failed, window=opened, analyses=analyses
    )
    return measured, result


def _with_window(progress: CanaryProgress, opened: AnalysisWindow | None) -> CanaryProgress:
    return dataclasses.replace(progress, window=opened)


def _counters(state: RolloutState) -> tuple[RequestCounters, RequestCounters] | None:
    assert state.stable is not None
    stable, canary = state.metrics.get(state.stable.name), state.metrics.get(state.target.name)
    return None if stable is None or canary is None else (stable, canary)


def _open(state: RolloutState, now: datetime) -> AnalysisWindow | None:
    """A window starting now, from the counters scraped now (None: none were)."""
    current = _counters(state)
    if current is None:
        return None
    return AnalysisWindow(started_at=now, stable=current[0], canary=current[1])


def _next_measurement(
    state: RolloutState, settings: CanarySpec, progress: CanaryProgress
) -> datetime:
    interval = duration(settings.analysis.interval)
    if progress.window is None:
        return state.now + interval  # scrape again then
    return max(progress.window.started_at + interval, state.now)


def _plan(
    settings: CanarySpec,
    stable: Revision,
    target: Revision,
    total: int | None,
    index: int,
    weight: int,
    prediction_gate: bool = False,
) -> RolloutPlan:
    wanted = settings.steps[index].weight
    return RolloutPlan(
        stable=RevisionPlan(stable, replicas=total, weight=100 - weight),
        canary=RevisionPlan(
            target, replicas=canary_replicas(settings, total, wanted), weight=weight
        ),
        prediction_gate=prediction_gate,
    )


def canary_replicas(settings: CanarySpec, total: int | None, weight: int) -> int | None:
    """The canary's pods for a weight, beside `total` stable pods (None: autoscaled)."""
    if total is None:
        return None
    if settings.traffic.router == TrafficRouter.GATEWAY_API or weight >= 100:
        # The route splits traffic: enough pods to carry the weight at stable's load per pod.
        return max(1, math.ceil(total * weight / 100))
    return max(1, round(total * weight / (100 - weight)))


def _sized(live: Mapping[str, Any], total: int | None) -> bool:
    if total is None:
        return True
    return int(live.get("spec", {}).get("replicas", 1)) >= total


def _started(target: Revision, stable: Revision, settings: CanarySpec) -> Event:
    weights = ", ".join(f"{w}%" for w in settings.weights)
    return Event(
        "Normal",
        reasons.CANARY_STEP,
        f"Revision {target.name} (version {target.model.version}) starts as a canary beside "
        f"{stable.name}; steps: {weights}.",
    )


def _promoting_event(target: Revision, total: int | None, steps: int) -> Event:
    size = "its autoscaler's size" if total is None else f"{total} pods"
    return Event(
        "Normal",
        reasons.PROMOTING,
        f"Canary revision {target.name} passed all {steps} steps; it scales to {size} and "
        "takes over.",
    )
