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

from modelship.api.model_deployment_status import (
    AnalysisOutcome,
    CanaryStatus,
    GatePhase,
)
from modelship.api.rollout import CanarySpec
from modelship.builders import Revision, RevisionPlan, RolloutPlan, steady_plan
from modelship.builders.defaults import canary_settings
from modelship.core.objects import Event
from modelship.reconcile import reasons
from modelship.reconcile.rollout.analysis import Tally, duration
from modelship.reconcile.rollout.base import (
    CanaryProgress,
    Phase,
    RolledBack,
    Rollout,
    RolloutState,
)
from modelship.reconcile.rollout.canary_plan import rollback, sized, step_plan
from modelship.reconcile.rollout.commands import Action, Command
from modelship.reconcile.rollout.deployments import ready_replicas, rollout_complete
from modelship.reconcile.rollout.measurement import measure, next_measurement, open_window
from modelship.reconcile.rollout.prediction_gate import gate_pending, run_gate


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
            return rollback(
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
        return CanaryProgress(0, None, Tally(), None, ())
    return CanaryProgress(
        previous.step,
        previous.step_started_at,
        Tally(previous.failed_analyses, previous.failed_latency_analyses),
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
            step_plan(settings, stable, target, total, index, weight=0, prediction_gate=gating),
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
    if gate is not None and progress.step_started_at is None and gate_pending(progress):
        gated = run_gate(state, settings, gate, progress, total, events)
        if isinstance(gated, Rollout):
            return gated
        progress = gated
    if progress.step_started_at is None:
        progress = dataclasses.replace(
            progress, step_started_at=now, window=open_window(state, now)
        )
        events.append(
            Event(
                "Normal",
                reasons.CANARY_STEP,
                f"Canary revision {target.name} receives {steps[index].weight}% of traffic "
                f"(step {index + 1} of {len(steps)}).",
            )
        )
    progress, result = measure(state, settings, progress)
    if result is not None and result.outcome == AnalysisOutcome.FAILED:
        events.append(Event("Warning", reasons.ANALYSIS_FAILED, result.message))
        if progress.tally.exhausted(settings.analysis):
            failed = progress.tally.failed + progress.tally.failed_on_timing
            return rollback(
                state,
                total,
                f"Canary revision {target.name} (version {target.model.version}) was rolled "
                f"back after {failed} failed measurements; the last: "
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
            window=open_window(state, now),
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
    wakes = [next_measurement(state, settings, progress)]
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
        step_plan(settings, stable, target, total, index, weight=steps[index].weight),
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
    if live is not None and rollout_complete(live) and sized(live, total):
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
