"""The prediction gate: before any traffic, a Job compares the canary's answers with the
stable revision's (`modelship compare`); the canary holds weight 0 meanwhile and is rolled
back on a failed verdict, an error or no verdict in time."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

from modelship.api.model_deployment_status import GatePhase, PredictionGateStatus
from modelship.api.rollout import CanarySpec, PredictionGate
from modelship.builders.prediction_gate import prediction_gate_job_name
from modelship.core.objects import Event
from modelship.reconcile import reasons
from modelship.reconcile.rollout.analysis import duration
from modelship.reconcile.rollout.base import CanaryProgress, GateRun, Phase, Rollout, RolloutState
from modelship.reconcile.rollout.canary_plan import rollback, step_plan

# A gate Job past its own deadline is failed by the Job controller; past this much more
# with no verdict read, the operator stops waiting (a Job deleted by hand, say).
GATE_GRACE = timedelta(minutes=1)
# Room kept for the gate's message in status (the API's maxLength is 1024).
GATE_MESSAGE_CHARS = 600


def gate_pending(progress: CanaryProgress) -> bool:
    """The gate has yet to pass: before the first step's traffic, and not passed before."""
    passed = progress.prediction_gate is not None and (
        progress.prediction_gate.phase == GatePhase.PASSED
    )
    return progress.step == 0 and not passed


def run_gate(
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
            return rollback(
                state,
                total,
                f"{who} was rolled back: its prediction gate gave no verdict within "
                f"{gate.timeout}. No traffic reached it. It is not retried until the model "
                "changes or a retry command.",
                *events,
            )
        return Rollout(
            step_plan(settings, stable, target, total, 0, weight=0, prediction_gate=True),
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
        return rollback(
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
