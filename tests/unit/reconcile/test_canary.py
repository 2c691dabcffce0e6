"""The Canary strategy through decide: steps, analysis, promotion, rollback, restarts.

A small cooperative cluster applies each decision's actions (every Deployment it
creates becomes available unless told otherwise) and Triton's counters are given per
revision, as the handler would scrape them; time moves by hand.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from modelship.api.model_deployment_status import RequestCounters
from modelship.api.rollout import CanarySpec
from modelship.reconcile.rollout.canary_plan import canary_replicas
from support.canary_cluster import Cluster, assert_resumes, canary, condition, counters, message
from support.reconcile_states import NOW, UID, md_body

CANARY = {
    "strategy": "Canary",
    "canary": {
        "steps": [{"weight": 20, "pause": "2m"}, {"weight": 50, "pause": "0s"}],
        "analysis": {"interval": "1m", "minRequests": 100, "failureLimit": 1},
    },
}


def body(version: str, generation: int = 1) -> dict[str, Any]:
    return md_body(version, generation, serving={"replicas": 4}, rollout=CANARY)


def started(version: str = "2") -> tuple[Cluster, str]:
    """v1 serves on 4 pods; the spec now asks for `version`, rolled out as a canary."""
    cluster = Cluster(body("1"))
    cluster.reconcile()
    cluster.reconcile()
    stable = cluster.md["status"]["stable"]["name"]
    cluster.md = {**body(version, generation=2), "status": cluster.md["status"]}
    return cluster, stable


def at_first_step() -> tuple[Cluster, str, str]:
    """The canary at its first step with both revisions' counters read once (all zero):
    the stable revision's name, then the canary's."""
    cluster, old = started()
    new = canary(cluster.reconcile())["name"]
    cluster.serve(counters(0), counters(0))
    cluster.reconcile()
    return cluster, old, new


def test_a_healthy_canary_walks_every_step_and_is_promoted() -> None:
    cluster, old = started()
    first = cluster.reconcile()
    new = canary(first)["name"]
    # The canary's pods start with no traffic; its Deployment is sized for the first step.
    assert canary(first)["weight"] == 0
    assert condition(first, "Progressing") == ("True", "CanaryStep")
    assert [e.reason for e in first.events] == ["CanaryStep"]
    assert cluster.deployments() == {old: 4, new: 1}  # 1 of 5 pods: 20%

    cluster.serve(counters(0), counters(0))
    step1 = cluster.reconcile()
    assert (canary(step1)["step"], canary(step1)["weight"]) == (0, 20)
    assert canary(step1)["stepStartedAt"] == "2026-01-02T03:04:05Z"
    assert condition(step1, "Progressing") == ("True", "Paused")
    assert condition(step1, "Ready") == ("True", "Serving")  # the stable revision serves on
    assert condition(step1, "Degraded") == ("False", "AsExpected")
    assert cluster.stable_service_selects_canary()
    assert step1.wake_at == NOW + timedelta(minutes=1)  # the first measurement is due

    cluster.later(60)
    cluster.serve(counters(1000), counters(250))
    measured = cluster.reconcile()
    assert [a["outcome"] for a in canary(measured)["analyses"]] == ["Passed"]
    assert canary(measured)["step"] == 0  # the pause holds for 2m
    assert measured.wake_at == NOW + timedelta(minutes=2)

    cluster.later(60)
    cluster.serve(counters(2000), counters(500))
    step2 = cluster.reconcile()
    assert (canary(step2)["step"], canary(step2)["weight"]) == (1, 50)
    assert condition(step2, "Progressing") == ("True", "Analyzing")
    assert [e.reason for e in step2.events] == ["CanaryStep"]
    assert cluster.deployments() == {old: 4, new: 4}  # the stable revision never shrinks

    cluster.later(30)
    cluster.serve(counters(2300), counters(600))
    too_soon = cluster.reconcile()
    assert canary(too_soon)["step"] == 1
    assert too_soon.wake_at == NOW + timedelta(minutes=3)

    cluster.later(30)
    cluster.serve(counters(2600), counters(900))
    promoted = cluster.reconcile()
    assert "canary" not in promoted.status
    assert promoted.status["stable"]["name"] == new
    assert [e.reason for e in promoted.events] == ["Promoting", "RevisionPromoted"]
    assert [(h["version"], h["outcome"]) for h in promoted.status["history"]] == [
        ("2", "Serving"),
        ("1", "Superseded"),
    ]
    assert cluster.deployments() == {new: 4}
    assert condition(promoted, "Ready") == ("True", "Serving")


def test_a_canary_failing_five_percent_is_rolled_back_and_not_retried() -> None:
    cluster, old, _ = at_first_step()
    cluster.later(60)
    cluster.serve(counters(1000), counters(237, 13))
    first_failure = cluster.reconcile()
    assert canary(first_failure)["failedAnalyses"] == 1  # the failure limit tolerates one
    assert [(e.type, e.reason) for e in first_failure.events] == [("Warning", "AnalysisFailed")]
    assert "canary failure rate 5.20%" in first_failure.events[0].message

    cluster.later(60)
    cluster.serve(counters(2000), counters(474, 26))
    rolled_back = cluster.reconcile()
    assert "canary" not in rolled_back.status
    assert cluster.deployments() == {old: 4}  # weight 0, canary gone, stable untouched
    assert not cluster.stable_service_selects_canary()
    assert condition(rolled_back, "Ready") == ("True", "Serving")
    assert condition(rolled_back, "Degraded") == ("True", "CanaryFailed")
    assert condition(rolled_back, "Progressing") == ("False", "RolledBack")
    assert "canary failure rate 5.20% exceeds stable's 0.00%" in message(rolled_back, "Degraded")
    assert [(h["version"], h["outcome"]) for h in rolled_back.status["history"]] == [
        ("2", "RolledBack"),
        ("1", "Serving"),
    ]
    assert ("Warning", "CanaryFailed") in [(e.type, e.reason) for e in rolled_back.events]

    cluster.later(3600)
    idle = cluster.reconcile()  # the same model: not retried
    assert (idle.actions, idle.status_patch, idle.events) == ((), {}, ())
    assert condition(idle, "Degraded") == ("True", "CanaryFailed")

    cluster.md = {**body("3", generation=3), "status": cluster.md["status"]}
    retried = cluster.reconcile()  # a new model is a new canary
    assert canary(retried)["version"] == "3"
    assert condition(retried, "Degraded") == ("False", "AsExpected")


@pytest.mark.parametrize(
    ("canary_counters", "outcome", "quoted"),
    [
        (counters(250, latency_ms=20), "Failed", "mean latency 20.00 ms is more than 1.5 times"),
        (counters(50), "Inconclusive", "fewer than the 100 needed"),
        (counters(250, latency_ms=5.5), "Passed", "canary 250 requests"),
    ],
)
def test_each_measurement_compares_the_canary_with_stable_over_the_same_window(
    canary_counters: RequestCounters, outcome: str, quoted: str
) -> None:
    cluster, _, _ = at_first_step()
    cluster.later(60)
    cluster.serve(counters(1000), canary_counters)
    decision = cluster.reconcile()
    (result,) = canary(decision)["analyses"]
    assert result["outcome"] == outcome
    assert quoted in result["message"]


def test_too_few_requests_grow_the_window_until_there_are_enough() -> None:
    cluster, _, _ = at_first_step()
    cluster.later(60)
    cluster.serve(counters(100), counters(60))
    assert canary(cluster.reconcile())["window"]["startedAt"] == "2026-01-02T03:04:05Z"
    cluster.later(60)
    cluster.serve(counters(200), counters(120, 10))  # 130 since the window opened
    decision = cluster.reconcile()
    assert [a["outcome"] for a in canary(decision)["analyses"]] == ["Failed", "Inconclusive"]
    assert canary(decision)["window"]["startedAt"] == "2026-01-02T03:06:05Z"


def test_a_counter_reset_restarts_the_window_without_judging() -> None:
    cluster, _ = started()
    cluster.reconcile()
    cluster.serve(counters(0), counters(500))
    cluster.reconcile()
    cluster.later(60)
    cluster.serve(counters(1000), counters(20))  # a canary pod restarted
    decision = cluster.reconcile()
    assert [a["outcome"] for a in canary(decision)["analyses"]] == ["Inconclusive"]
    assert canary(decision)["failedAnalyses"] == 0
    assert canary(decision)["window"]["canary"]["success"] == 20


def test_no_traffic_reaches_a_canary_with_no_ready_pod() -> None:
    cluster, _ = started()
    cluster.reconcile()
    new = cluster.md["status"]["canary"]["name"]
    cluster.unready.add(new)
    cluster.settle()
    cluster.serve(counters(0), counters(0))
    waiting = cluster.reconcile()
    assert canary(waiting)["weight"] == 0
    assert not cluster.stable_service_selects_canary()
    assert "has no ready pod yet" in message(waiting, "Progressing")
    assert waiting.wake_at is None  # its pods becoming ready wakes it


def test_a_canary_whose_deployment_is_deleted_mid_step_loses_its_traffic_not_its_step() -> None:
    cluster, _, _ = at_first_step()
    cluster.later(120)
    cluster.serve(counters(2000), counters(500))
    cluster.reconcile()  # step 2, 50%
    new = cluster.md["status"]["canary"]["name"]
    del cluster.children[("Deployment", new)]
    decision = cluster.reconcile()
    assert (canary(decision)["step"], canary(decision)["weight"]) == (1, 0)
    assert ("Create", "Deployment", new) in [
        (type(a).__name__, a.ref.kind, a.ref.name) for a in decision.actions
    ]


def test_a_newer_version_mid_canary_replaces_the_canary_from_the_first_step() -> None:
    cluster, old, _ = at_first_step()
    cluster.later(120)
    cluster.serve(counters(2000), counters(500))
    cluster.reconcile()  # step 2
    v2 = cluster.md["status"]["canary"]["name"]
    cluster.md = {**body("3", generation=3), "status": cluster.md["status"]}
    decision = cluster.reconcile()
    assert canary(decision)["version"] == "3"
    assert (canary(decision)["step"], canary(decision)["weight"]) == (0, 0)
    assert canary(decision)["analyses"] == []
    assert v2 not in cluster.deployments()
    assert cluster.deployments()[old] == 4


def _walk() -> list[str]:
    """Names of the states the restart test stops in."""
    return ["starting", "paused", "measured", "analyzing", "failed-once", "rolled-back"]


@pytest.mark.parametrize("stop", _walk())
def test_an_operator_restart_resumes_in_every_state(stop: str) -> None:
    """An operator restarted right after writing a status decides from that status alone
    what it decided before: the same step, no second measurement, no write, no Event."""
    cluster, _ = started()
    walk: list[tuple[str, float, RequestCounters, RequestCounters]] = [
        ("starting", 0, counters(0), counters(0)),
        ("paused", 0, counters(0), counters(0)),
        ("measured", 60, counters(1000), counters(250)),
        ("analyzing", 60, counters(2000), counters(500)),
        ("failed-once", 60, counters(3000), counters(700, 50)),
        ("rolled-back", 60, counters(4000), counters(900, 100)),
    ]
    for name, seconds, stable, canary_counters in walk:
        cluster.later(seconds)
        if name != "starting":
            cluster.serve(stable, canary_counters)
        before = cluster.observed()
        decision = cluster.reconcile()
        if name == stop:
            break
    reached = {
        "starting": "CanaryStep",
        "paused": "Paused",
        "measured": "Paused",
        "analyzing": "Analyzing",
        "failed-once": "Analyzing",
        "rolled-back": "RolledBack",
    }
    assert condition(decision, "Progressing")[1] == reached[stop]
    assert_resumes(before, decision)


def test_after_the_last_step_the_canary_scales_to_stable_size_then_takes_over() -> None:
    cluster, old = started()
    cluster.md["spec"]["rollout"] = {
        "strategy": "Canary",
        "canary": {"steps": [{"weight": 20, "pause": "0s"}], "analysis": {"minRequests": 10}},
    }
    cluster.reconcile()
    cluster.serve(counters(0), counters(0))
    cluster.reconcile()
    new = cluster.md["status"]["canary"]["name"]
    cluster.later(60)
    cluster.serve(counters(100), counters(25))
    before = cluster.observed()
    promoting = cluster.reconcile()
    assert condition(promoting, "Progressing") == ("True", "Promoting")
    assert [e.reason for e in promoting.events] == ["Promoting"]
    assert cluster.deployments() == {old: 4, new: 4}
    assert canary(promoting)["weight"] == 20  # the last step's weight holds meanwhile
    assert_resumes(before, promoting)

    promoted = cluster.reconcile()
    assert promoted.status["stable"]["name"] == new
    assert cluster.deployments() == {new: 4}


@pytest.mark.parametrize(
    ("stable_pods", "weight", "canary_pods", "share"),
    [
        (4, 10, 1, 20),
        (4, 20, 1, 20),
        (4, 50, 4, 50),
        (10, 10, 1, 9),
        (10, 30, 4, 29),
        (1, 50, 1, 50),
    ],
)
def test_the_replicas_router_approximates_the_weight_by_pod_counts(
    stable_pods: int, weight: int, canary_pods: int, share: int
) -> None:
    """The precision README documents: share = canary / (stable + canary) pods."""
    settings = CanarySpec()
    assert canary_replicas(settings, stable_pods, weight) == canary_pods
    assert round(100 * canary_pods / (stable_pods + canary_pods)) == share


def test_every_child_of_a_canary_goes_with_the_model_deployment() -> None:
    """Deleted mid-canary, the ModelDeployment takes both revisions and the route with it:
    each child names it as controller, for the garbage collector."""
    cluster, _ = started()
    cluster.md["spec"]["rollout"]["canary"]["traffic"] = {
        "router": "gatewayAPI",
        "parentRefs": [{"name": "gateway"}],
    }
    cluster.reconcile()
    cluster.serve(counters(0), counters(0))
    cluster.reconcile()
    route = cluster.children[("HTTPRoute", "wine")]
    backends = route["spec"]["rules"][0]["backendRefs"]
    assert [ref["weight"] for ref in backends] == [80, 20]  # stable, canary
    kinds = {kind for kind, _ in cluster.children}
    assert {"Deployment", "Service", "HTTPRoute"} <= kinds
    assert len([k for k, _ in cluster.children if k == "Deployment"]) == 2
    for child in cluster.children.values():
        (owner,) = child["metadata"]["ownerReferences"]
        assert (owner["uid"], owner["controller"]) == (UID, True)


def command(cluster: Cluster, value: str) -> None:
    """A person's rollout command, as `kubectl modelship` writes it."""
    meta = cluster.md["metadata"]
    annotations = {**meta.get("annotations", {}), "rollout.modelship.dev/command": value}
    cluster.md = {**cluster.md, "metadata": {**meta, "annotations": annotations}}


def test_pause_holds_the_step_past_its_pause_and_resume_walks_on() -> None:
    cluster, _, _ = at_first_step()
    command(cluster, "pause/1")
    paused = cluster.reconcile()
    assert canary(paused)["paused"] is True
    assert condition(paused, "Progressing") == ("True", "Paused")
    assert "paused by a rollout command" in message(paused, "Progressing")
    assert [e.reason for e in paused.events] == ["RolloutCommand"]
    assert paused.status["rolloutCommand"] == "pause/1"

    for minute in (1, 2, 3, 4):  # measurements pass and the 2m pause ends: still held
        cluster.later(60)
        cluster.serve(counters(1000 * minute), counters(250 * minute))
        held = cluster.reconcile()
        assert (canary(held)["step"], canary(held)["weight"]) == (0, 20)
        assert held.events == ()  # the same annotation is not a new command

    command(cluster, "resume/2")
    resumed = cluster.reconcile()
    assert canary(resumed)["paused"] is False
    assert (canary(resumed)["step"], canary(resumed)["weight"]) == (1, 50)
    assert [e.reason for e in resumed.events] == ["RolloutCommand", "CanaryStep"]


def test_a_paused_canary_that_fails_its_analysis_is_still_rolled_back() -> None:
    cluster, old, _ = at_first_step()
    command(cluster, "pause/1")
    cluster.reconcile()
    for minute in (1, 2):
        cluster.later(60)
        cluster.serve(counters(1000 * minute), counters(200 * minute, 50 * minute))
        rolled_back = cluster.reconcile()
    assert condition(rolled_back, "Degraded") == ("True", "CanaryFailed")
    assert cluster.deployments() == {old: 4}


def test_promote_skips_the_remaining_steps_even_while_paused() -> None:
    cluster, old, new = at_first_step()
    command(cluster, "pause/1")
    cluster.reconcile()
    command(cluster, "promote/2")
    promoting = cluster.reconcile()
    assert condition(promoting, "Progressing") == ("True", "Promoting")
    assert canary(promoting)["step"] == 2
    assert cluster.deployments() == {old: 4, new: 4}
    promoted = cluster.reconcile()
    assert promoted.status["stable"]["name"] == new
    assert cluster.deployments() == {new: 4}


def test_abort_rolls_back_now_and_retry_starts_the_same_revision_again() -> None:
    cluster, old, new = at_first_step()
    command(cluster, "abort/1")
    aborted = cluster.reconcile()
    assert cluster.deployments() == {old: 4}
    assert condition(aborted, "Degraded") == ("True", "CanaryFailed")
    assert "aborted by a rollout command (abort/1)" in message(aborted, "Degraded")
    assert aborted.status["history"][0]["outcome"] == "RolledBack"

    cluster.later(600)
    assert "canary" not in cluster.reconcile().status  # not retried by itself

    command(cluster, "retry/2")
    retried = cluster.reconcile()
    assert (canary(retried)["name"], canary(retried)["step"]) == (new, 0)
    assert [e.reason for e in retried.events][:2] == ["RolloutCommand", "CanaryStep"]
    assert [h["outcome"] for h in retried.status["history"]] == ["Serving"]
    assert condition(retried, "Degraded") == ("False", "AsExpected")
    assert cluster.deployments() == {old: 4, new: 1}


@pytest.mark.parametrize(
    "value",
    ["retry/1", "resume/1", "skip/1", ""],
)
def test_a_command_with_nothing_to_act_on_changes_nothing(value: str) -> None:
    cluster, _, _ = at_first_step()
    before = canary(cluster.reconcile())
    command(cluster, value)
    after = cluster.reconcile()
    assert {k: v for k, v in canary(after).items() if k != "paused"} == {
        k: v for k, v in before.items() if k != "paused"
    }
    assert canary(after)["paused"] is False


def test_a_pause_survives_an_operator_restart() -> None:
    cluster, _, _ = at_first_step()
    command(cluster, "pause/1")
    cluster.reconcile()
    cluster.later(600)
    cluster.serve(counters(5000), counters(1250))
    # A restart reads only the status and the annotation it recorded as acted on.
    assert canary(cluster.reconcile())["step"] == 0
