"""The canary's prediction gate through decide: before any traffic a compare Job runs; its
verdict (read from the Job's termination message) lets the canary walk its steps or rolls it
back with no traffic ever sent; a late, broken or superseded gate, an abort and a restart
in every gate state."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from modelship.reconcile.model_deployment import Decision
from modelship.reconcile.rollout import GateRun
from modelship.reconcile.rollout.prediction_gate import gate_verdict
from support.canary_cluster import Cluster, assert_resumes, canary, condition, counters, message
from support.reconcile_states import NOW, md_body

GATE = {"minAgreement": 0.95, "timeout": "5m"}


def body(version: str, generation: int = 1, gate: dict[str, Any] = GATE) -> dict[str, Any]:
    rollout = {
        "strategy": "Canary",
        "canary": {
            "steps": [{"weight": 20, "pause": "2m"}, {"weight": 50, "pause": "0s"}],
            "analysis": {"interval": "1m", "minRequests": 100, "failureLimit": 1},
            "predictionGate": gate,
        },
    }
    return md_body(version, generation, serving={"replicas": 4}, rollout=rollout)


def started(gate: dict[str, Any] = GATE) -> tuple[Cluster, str]:
    """v1 serves on 4 pods; the spec now asks for v2 as a canary behind a prediction gate."""
    cluster = Cluster(body("1", gate=gate))
    cluster.reconcile()
    cluster.reconcile()
    stable = cluster.md["status"]["stable"]["name"]
    cluster.md = {**body("2", generation=2, gate=gate), "status": cluster.md["status"]}
    return cluster, stable


def jobs(cluster: Cluster) -> dict[str, dict[str, Any]]:
    return {name: child for (kind, name), child in cluster.children.items() if kind == "Job"}


def gating() -> tuple[Cluster, str, str, str]:
    """The gate Job runs: the stable revision's name, the canary's, and the Job's."""
    cluster, old = started()
    cluster.reconcile()  # the canary's Deployment starts; its pod is ready after
    decision = cluster.reconcile()
    (job,) = jobs(cluster)
    return cluster, old, canary(decision)["name"], job


def compared(agreement: float, verdict: str) -> str:
    summary = f"labels agree on {agreement:.1%} of 1000 rows: {verdict}"
    return json.dumps({"task": "classification", "rows": 1000, "agreement": agreement,
                       "verdict": verdict, "summary": summary})  # fmt: skip


def weights_seen(decisions: list[Decision]) -> list[int]:
    return [d.status["canary"]["weight"] for d in decisions if "canary" in d.status]


def test_the_gate_job_runs_before_any_traffic_and_the_canary_holds_at_weight_0() -> None:
    cluster, old = started()
    created = cluster.reconcile()
    assert jobs(cluster) == {}, "no gate Job before the canary has a ready pod"
    assert [e.reason for e in created.events] == ["CanaryStep"]
    first = cluster.reconcile()
    new = canary(first)["name"]
    (job,) = jobs(cluster)
    assert job.startswith(f"{new}-gate-")
    assert canary(first)["weight"] == 0
    assert canary(first).get("stepStartedAt") is None
    assert canary(first)["predictionGate"] == {
        "phase": "Running",
        "job": job,
        "startedAt": "2026-01-02T03:04:05Z",
    }
    assert condition(first, "Progressing") == ("True", "PredictionGate")
    assert f"(Job {job}) before it gets 20% of traffic" in message(first, "Progressing")
    assert [e.reason for e in first.events] == ["PredictionGate"]
    assert not cluster.stable_service_selects_canary()
    assert first.wake_at == NOW + timedelta(minutes=6)  # the timeout, and a minute's grace

    cluster.later(60)
    cluster.serve(counters(1000), counters(0))
    waiting = cluster.reconcile()
    assert (waiting.actions, waiting.status_patch, waiting.events) == ((), {}, ())
    assert cluster.deployments() == {old: 4, new: 1}


def test_a_passed_gate_lets_the_canary_take_its_first_step_and_the_job_goes() -> None:
    cluster, _, _, job = gating()
    cluster.later(30)
    cluster.gate_runs = {job: GateRun(True, compared(0.99, "passed"))}
    passed = cluster.reconcile()
    assert (canary(passed)["step"], canary(passed)["weight"]) == (0, 20)
    assert canary(passed)["stepStartedAt"] == "2026-01-02T03:04:35Z"
    gate = canary(passed)["predictionGate"]
    assert (gate["phase"], gate["message"]) == (
        "Passed",
        "labels agree on 99.0% of 1000 rows: passed",
    )
    assert [e.reason for e in passed.events] == ["PredictionGate", "CanaryStep"]
    assert "passed its prediction gate: labels agree on 99.0%" in passed.events[0].message
    assert jobs(cluster) == {}, "the Job is deleted once its verdict is read"
    assert cluster.stable_service_selects_canary()

    cluster.gate_runs = {}
    cluster.later(60)
    cluster.serve(counters(1000), counters(250))
    later = cluster.reconcile()
    assert canary(later)["predictionGate"]["phase"] == "Passed"
    assert jobs(cluster) == {}, "a passed gate does not run again"


@pytest.mark.parametrize(
    ("run", "quoted"),
    [
        (GateRun(True, compared(0.61, "failed")), "labels agree on 61.0% of 1000 rows: failed"),
        (
            GateRun(False, json.dumps({"error": "the candidate endpoint did not answer"})),
            "it could not compare the revisions: the candidate endpoint did not answer",
        ),
        (GateRun(False, ""), "its Job ended with no result (no message)"),
    ],
)
def test_a_failed_or_broken_gate_rolls_back_with_no_traffic_ever_sent(
    run: GateRun, quoted: str
) -> None:
    cluster, old, new, job = gating()
    cluster.gate_runs = {job: run}
    rolled_back = cluster.reconcile()
    assert "canary" not in rolled_back.status
    assert cluster.deployments() == {old: 4}
    assert jobs(cluster) == {}
    assert not cluster.stable_service_selects_canary()
    assert condition(rolled_back, "Ready") == ("True", "Serving")
    assert condition(rolled_back, "Degraded") == ("True", "CanaryFailed")
    assert condition(rolled_back, "Progressing") == ("False", "RolledBack")
    degraded = message(rolled_back, "Degraded")
    assert (
        f"{new} (version 2) was rolled back by its prediction gate, before any traffic" in degraded
    )
    assert quoted in degraded
    assert [(h["version"], h["outcome"]) for h in rolled_back.status["history"]] == [
        ("2", "RolledBack"),
        ("1", "Serving"),
    ]
    assert ("Warning", "CanaryFailed") in [(e.type, e.reason) for e in rolled_back.events]
    idle = cluster.reconcile()  # the same model is not retried
    assert (idle.actions, idle.events) == ((), ())


def test_a_gate_with_no_verdict_in_time_rolls_back() -> None:
    cluster, old, _, _ = gating()
    cluster.later(5 * 60 + 59)
    assert condition(cluster.reconcile(), "Progressing")[1] == "PredictionGate"
    cluster.later(1)
    late = cluster.reconcile()
    assert "gave no verdict within 5m. No traffic reached it" in message(late, "Degraded")
    assert cluster.deployments() == {old: 4}


def test_changed_bounds_mid_gate_replace_the_job_and_restart_the_gate() -> None:
    cluster, _, _, job = gating()
    cluster.later(60)
    stricter = {**GATE, "minAgreement": 0.99}
    cluster.md = {**body("2", generation=3, gate=stricter), "status": cluster.md["status"]}
    decision = cluster.reconcile()
    (replacement,) = jobs(cluster)
    assert replacement != job
    args = jobs(cluster)[replacement]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--min-agreement") + 1] == "0.99"
    assert canary(decision)["predictionGate"]["startedAt"] == "2026-01-02T03:05:05Z"
    assert canary(decision)["weight"] == 0
    cluster.gate_runs = {job: GateRun(True, compared(0.97, "passed"))}  # the old Job's verdict
    assert canary(cluster.reconcile())["weight"] == 0, "only the current Job's verdict counts"


def test_abort_mid_gate_rolls_back_and_removes_the_job() -> None:
    cluster, old, _, _ = gating()
    annotations = {"rollout.modelship.dev/command": "abort/1"}
    cluster.md = {**cluster.md, "metadata": {**cluster.md["metadata"], "annotations": annotations}}
    aborted = cluster.reconcile()
    assert condition(aborted, "Degraded") == ("True", "CanaryFailed")
    assert cluster.deployments() == {old: 4}
    assert jobs(cluster) == {}


def test_a_newer_version_mid_gate_gates_the_newer_canary() -> None:
    cluster, _, v2, job = gating()
    cluster.md = {**body("3", generation=3), "status": cluster.md["status"]}
    cluster.reconcile()
    assert jobs(cluster) == {}, "v2's Job goes with v2"
    decision = cluster.reconcile()  # v3's pod is ready
    (newer,) = jobs(cluster)
    assert newer != job
    assert newer.startswith(f"{canary(decision)['name']}-gate-")
    assert v2 not in cluster.deployments()


def test_a_gate_job_that_runs_is_kept_while_the_canary_loses_its_pod() -> None:
    cluster, _, new, job = gating()
    cluster.unready.add(new)
    cluster.settle()
    decision = cluster.reconcile()
    assert list(jobs(cluster)) == [job]
    assert canary(decision)["predictionGate"]["phase"] == "Running"


@pytest.mark.parametrize("stop", ["running", "passed"])
def test_an_operator_restart_resumes_in_every_gate_state(stop: str) -> None:
    cluster, _, _, job = gating()
    if stop == "passed":
        cluster.gate_runs = {job: GateRun(True, compared(1.0, "passed"))}
    cluster.later(10)
    before = cluster.observed()
    decision = cluster.reconcile()
    assert_resumes(before, decision)


def test_without_a_prediction_gate_no_job_runs() -> None:
    cluster = Cluster(md_body("1", 1, serving={"replicas": 4}, rollout={"strategy": "Canary"}))
    cluster.reconcile()
    cluster.md = {
        **md_body("2", 2, serving={"replicas": 4}, rollout={"strategy": "Canary"}),
        "status": cluster.md["status"],
    }
    decision = cluster.reconcile()
    assert jobs(cluster) == {}
    assert "predictionGate" not in canary(decision)


AGREE_99 = "labels agree on 99.0% of 1000 rows: passed"
AGREE_50 = "labels agree on 50.0% of 1000 rows: failed"
TRACEBACK = "Traceback (most recent call last):\n  boom"
NO_RESULT = "its Job ended with no result (Traceback (most recent call last): boom)"
CUT = "it could not compare the revisions: " + "x" * 600


@pytest.mark.parametrize(
    ("run", "verdict"),
    [
        (GateRun(True, compared(0.99, "passed")), (True, AGREE_99)),
        (GateRun(True, compared(0.5, "failed")), (False, AGREE_50)),
        # A measurement with no bound to judge it by is no pass, nor is a failed Job's.
        (GateRun(True, json.dumps({"summary": "3 rows"})), (False, "3 rows")),
        (GateRun(False, compared(0.99, "passed")), (False, AGREE_99)),
        (GateRun(True, TRACEBACK), (False, NO_RESULT)),
        (GateRun(False, json.dumps({"error": "x" * 2000})), (False, CUT)),
    ],
)  # fmt: skip
def test_the_verdict_is_read_from_the_termination_message(
    run: GateRun, verdict: tuple[bool, str]
) -> None:
    assert gate_verdict(run) == verdict
