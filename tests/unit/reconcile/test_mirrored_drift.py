"""Mirrored live drift: when a live check is taken, what it writes, and what starts a run.

Pure tables over decide_live (not mirrored, pod not ready, pod that cannot start: its
model fetch failing or its image not pulled, read as serving pods' are, not due, unreadable, an
earlier revision's pod, too few rows, a full window), then decide() as a whole: a
drifted window writes status.drift with source live/<stable revision>, Drifted and one
Warning; a drift-watch pod that cannot start puts its reason in Drifted, steady while the
kubelet restarts it; the next check comes a window later; a failed read keeps status.drift and says
why without flipping the condition; batch and live checks share one streak; the
drift-watch children come and go with mirrorPercent; and with `action: retrain` and
`windows: 2` the second drifted live check, not the first, starts a RetrainJob run.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from modelship.api.model_deployment import ModelDeployment
from modelship.api.model_deployment_status import DriftStatus
from modelship.api.retrain_job import RetrainJob
from modelship.builders import resolve_model, revision_for
from modelship.core.objects import Create, Delete, Event
from modelship.reconcile.drift import Check, CheckedFeature, judge
from modelship.reconcile.mirrored_drift import (
    FeatureWindow,
    LiveOutcome,
    LiveReading,
    LiveWindow,
    decide_live,
)
from modelship.reconcile.model_deployment import Observed, decide
from modelship.reconcile.retrain_triggers import decide_drift_run
from support.custom_resources import retrain_job_body
from support.reconcile_states import NOW, first_drift, md_body

HOUR = timedelta(hours=1)
GATEWAY = {
    "strategy": "Canary",
    "canary": {"traffic": {"router": "gatewayAPI", "parentRefs": [{"name": "public"}]}},
}
RETRAIN = {"action": "retrain", "retrainJob": "nightly"}


def mirrored_body(**drift: Any) -> dict[str, Any]:
    monitoring = {"drift": {"mirrorPercent": 5, "window": "1h", "threshold": 0.2, **drift}}
    return md_body(rollout=GATEWAY, monitoring=monitoring)


BODY = mirrored_body()
MD = ModelDeployment.model_validate(BODY)
STABLE = revision_for(MD, resolve_model(MD)).name

SHIFTED = {
    "income": FeatureWindow(0.9, 1e-40),
    "age": FeatureWindow(0.01, 0.9),
    "city": FeatureWindow(0.35, 0.2),  # over the threshold, but not significant
}
CLEAN = {name: FeatureWindow(0.02, 0.8) for name in ("income", "age", "city")}


def window(features: dict[str, FeatureWindow], rows: int = 1000, revision: str = STABLE) -> Any:
    return LiveReading(window=LiveWindow(revision, rows, features))


READY = NOW - 2 * HOUR


def drift_watch_pod(
    init: dict[str, Any] | None = None, main: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A drift-watch pod as the kubelet reports it."""
    fetch = init or {"name": "fetch", "image": "triton:1", "state": {"running": {}}}
    watch = main or {"name": "drift-watch", "image": "triton:1", "state": {"waiting": {}}}
    return {
        "metadata": {"name": "wine-drift-watch-x1", "labels": {}},
        "status": {"initContainerStatuses": [fetch], "containerStatuses": [watch]},
    }


def starting_pod() -> dict[str, Any]:
    return drift_watch_pod()


def fetch_failing_pod(state: dict[str, Any] | None = None) -> dict[str, Any]:
    """Its fetch init container failed; ``state``: what it does now (backing off)."""
    failed = {"exitCode": 1, "message": "NoSuchKey: s3://models/wine/1"}
    fetch = {
        "name": "fetch",
        "image": "triton:1",
        "ready": False,
        "state": state or {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": failed},
    }
    return drift_watch_pod(init=fetch)


def image_not_pulled_pod() -> dict[str, Any]:
    waiting = {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}
    return drift_watch_pod(main={"name": "drift-watch", "image": "triton:99", "state": waiting})


FETCH_FAILED_NOTE = (
    "The drift-watch pod cannot start: Fetching the model failed (exit code 1): NoSuchKey:"
    " s3://models/wine/1. Check spec.model.uri and its credentials."
)


NOT_READY = "The drift-watch pod is not ready yet."
RETRY = NOW + timedelta(seconds=150)  # a read that cannot judge is retried a 24th of the window on


def no_check(
    name: str,
    reading: LiveReading,
    note: str | None,
    *,
    reason: str | None = None,
    wake_at: Any = None,
    md: ModelDeployment = MD,
    ready: Any = READY,
    previous_live: Any = None,
) -> Any:
    """A row of test_no_check_is_taken: ``reading`` is no check; Drifted is told ``note`` and
    ``reason``, and the next look is at ``wake_at``."""
    outcome = LiveOutcome(note=note, reason=reason, wake_at=wake_at)
    return pytest.param(md, ready, reading, previous_live, outcome, id=name)


@pytest.mark.parametrize(
    ("md", "ready", "reading", "previous_live", "expected"),
    [
        no_check(
            "not-mirrored",
            window(SHIFTED),
            None,
            md=ModelDeployment.model_validate(md_body(monitoring={"drift": {}})),
        ),
        no_check("pod-not-ready", LiveReading(), NOT_READY, ready=None),
        no_check("pod-starting", LiveReading(pods=[starting_pod()]), NOT_READY, ready=None),
        no_check(
            "pod-cannot-fetch-the-model",
            LiveReading(pods=[fetch_failing_pod()]),
            FETCH_FAILED_NOTE,
            reason="ModelFetchFailed",
            ready=None,
        ),
        no_check(
            "pod-image-not-pulled",
            LiveReading(pods=[starting_pod(), image_not_pulled_pod()]),
            'The drift-watch pod cannot start: Image "triton:99" of container drift-watch cannot'
            " be pulled (Back-off pulling image): fix spec.serving.image or the registry's access.",
            reason="ImagePullFailed",
            ready=None,
        ),
        no_check(
            "ready-less-than-a-window",
            LiveReading(),
            f"The next live check is due at {(NOW + HOUR / 2).isoformat()}.",
            wake_at=NOW + HOUR / 2,
            ready=NOW - HOUR / 2,
        ),
        no_check(
            "checked-a-quarter-window-ago",
            LiveReading(),
            f"The next live check is due at {(NOW + 3 * HOUR / 4).isoformat()}.",
            wake_at=NOW + 3 * HOUR / 4,
            previous_live=NOW - HOUR / 4,
        ),
        no_check(
            "unreadable",
            LiveReading(problem="http://10.0.0.9:8003/metrics answered HTTP 503"),
            "The drift-watch pod's metrics cannot be read: http://10.0.0.9:8003/metrics answered"
            " HTTP 503.",
            wake_at=RETRY,
        ),
        no_check(
            "earlier-revision",
            window(SHIFTED, revision="wine-0000000000"),
            f"The drift-watch pod still watches revision wine-0000000000, not the stable {STABLE}.",
            wake_at=RETRY,
        ),
        no_check(
            "too-few-rows",
            window(SHIFTED, rows=399),
            "Not enough live traffic yet: 399 mirrored rows in the last 1h, a check needs 400.",
            wake_at=RETRY,
        ),
    ],
)
def test_no_check_is_taken(
    md: ModelDeployment,
    ready: Any,
    reading: LiveReading,
    previous_live: Any,
    expected: LiveOutcome,
) -> None:
    previous = None
    if previous_live is not None:
        previous = DriftStatus(
            drifted=False,
            checked_at=previous_live,
            source="x",
            message="m",
            live_checked_at=previous_live,
        )
    assert decide_live(md, previous, STABLE, ready, reading, NOW) == expected


def test_a_full_window_is_a_check_and_the_next_is_a_window_later() -> None:
    outcome = decide_live(MD, None, STABLE, READY, window(SHIFTED), NOW)
    assert outcome.check is not None
    assert (outcome.check.source, outcome.check.at, outcome.check.rows) == (
        f"live/{STABLE}",
        NOW,
        1000,
    )
    assert {f.name: f.significant for f in outcome.check.features} == {
        "income": True,
        "age": False,
        "city": False,
    }
    assert (outcome.note, outcome.wake_at) == (None, NOW + HOUR)


# --- decide() as a whole -------------------------------------------------------------------


def reconcile(body: dict[str, Any], reading: LiveReading, at: Any = NOW) -> Any:
    return decide(
        Observed(body=body, children=[], now=at, drift_watch_ready_since=READY, live_drift=reading)
    )


def drifted(decision: Any) -> tuple[str, str, str]:
    found = next(c for c in decision.status["conditions"] if c["type"] == "Drifted")
    return found["status"], found["reason"], found["message"]


def with_status(body: dict[str, Any], decision: Any) -> dict[str, Any]:
    return {**copy.deepcopy(body), "status": decision.status}


def test_a_drift_watch_pod_that_cannot_start_says_why_and_does_not_flap() -> None:
    backing_off = Observed(
        body=BODY, children=[], now=NOW, live_drift=LiveReading(pods=[fetch_failing_pod()])
    )
    first = decide(backing_off)
    assert drifted(first) == (
        "Unknown",
        "ModelFetchFailed",
        f"No drift check of batch runs or live traffic has finished yet. {FETCH_FAILED_NOTE}",
    )
    # Restarted, the fetch runs again: the kubelet keeps its last failure, the condition stands.
    retrying = LiveReading(pods=[fetch_failing_pod({"running": {}})])
    again = decide(
        Observed(body=with_status(BODY, first), children=[], now=NOW + HOUR, live_drift=retrying)
    )
    assert drifted(again) == drifted(first)
    assert again.status["conditions"] == first.status["conditions"]
    assert "drift" not in again.status


def test_a_broken_drift_watch_pod_after_a_check_keeps_the_check() -> None:
    """A check on record keeps Drifted's status and reason; the message adds the pod's trouble."""
    first = reconcile(BODY, window(SHIFTED))
    broken = decide(
        Observed(
            body=with_status(BODY, first),
            children=[],
            now=NOW + HOUR,
            live_drift=LiveReading(pods=[fetch_failing_pod()]),
        )
    )
    assert broken.status["drift"] == first.status["drift"]
    status, reason, message = drifted(broken)
    assert (status, reason) == ("True", "Drifted")
    assert message.endswith(FETCH_FAILED_NOTE)
    assert not [e for e in broken.events if e.reason in ("Drifted", "NoDrift")]


def test_a_drifted_window_writes_status_drift_and_warns_once() -> None:
    first = reconcile(BODY, window(SHIFTED))
    drift = first.status["drift"]
    assert drift == first_drift(
        "2026-01-02T03:04:05Z",
        f"live/{STABLE}",
        [("income", 0.9, True), ("city", 0.35, False), ("age", 0.01, False)],
        f"1 feature(s) drifted in live/{STABLE} (1000 rows, 3 features) beyond"
        " PSI 0.2: income (PSI 0.90).",
    ) | {"liveCheckedAt": "2026-01-02T03:04:05Z"}
    assert drifted(first)[:2] == ("True", "Drifted")
    assert Event("Warning", "Drifted", drift["message"]) in first.events
    assert first.wake_at == NOW + HOUR

    # Ten minutes on, the same window is not checked again: nothing changes.
    later = reconcile(with_status(BODY, first), window(SHIFTED), NOW + timedelta(minutes=10))
    assert later.status["drift"] == drift
    assert not [e for e in later.events if e.reason == "Drifted"]
    assert later.wake_at == NOW + HOUR


def test_a_failed_read_keeps_the_status_and_says_why_without_a_flap() -> None:
    first = reconcile(BODY, window(SHIFTED))
    due = NOW + HOUR
    failed = reconcile(with_status(BODY, first), LiveReading(problem="connection refused"), due)
    assert failed.status["drift"] == first.status["drift"]
    status, reason, message = drifted(failed)
    assert (status, reason) == ("True", "Drifted")
    assert message.endswith("The drift-watch pod's metrics cannot be read: connection refused.")
    assert not [e for e in failed.events if e.reason in ("Drifted", "NoDrift")]
    assert failed.wake_at == due + timedelta(seconds=150)


def test_a_clean_window_clears_drift() -> None:
    first = reconcile(BODY, window(SHIFTED))
    clean = reconcile(with_status(BODY, first), window(CLEAN), NOW + HOUR)
    assert (clean.status["drift"]["drifted"], clean.status["drift"]["consecutive"]) == (False, 0)
    assert drifted(clean)[:2] == ("False", "NoDrift")
    assert [e.type for e in clean.events if e.reason == "NoDrift"] == ["Normal"]


def test_a_clean_first_window_raises_nothing() -> None:
    clean = reconcile(BODY, window(CLEAN))
    assert clean.status["drift"]["drifted"] is False
    assert drifted(clean)[:2] == ("False", "NoDrift")
    assert not [e for e in clean.events if e.reason in ("Drifted", "NoDrift")]


def test_the_drift_watch_children_come_and_go_with_mirror_percent() -> None:
    created = reconcile(BODY, LiveReading())
    wanted = {(a.ref.kind, a.ref.name) for a in created.actions if isinstance(a, Create)}
    assert {("Deployment", "wine-drift-watch"), ("Service", "wine-drift-watch")} <= wanted
    children = [a.manifest for a in created.actions if isinstance(a, Create)]
    unmirrored = md_body(rollout=GATEWAY, monitoring={"drift": {"window": "1h"}})
    dropped = decide(Observed(body=unmirrored, children=[_live(c) for c in children], now=NOW))
    deleted = {(a.ref.kind, a.ref.name) for a in dropped.actions if isinstance(a, Delete)}
    assert deleted == {("Deployment", "wine-drift-watch"), ("Service", "wine-drift-watch")}


def _live(manifest: dict[str, Any]) -> dict[str, Any]:
    live = copy.deepcopy(manifest)
    live["metadata"]["uid"] = f"uid-{manifest['metadata']['name']}"
    return live


def test_two_drifted_live_checks_start_a_run_with_windows_2() -> None:
    body = mirrored_body(**RETRAIN)
    rtj = RetrainJob.model_validate(
        retrain_job_body("nightly", model_deployment="wine", triggers={"drift": {"windows": 2}})
    )
    first = reconcile(body, window(SHIFTED))
    after_first = with_status(body, first)
    assert not decide_drift_run(rtj, after_first, None, False, NOW).start

    second = reconcile(after_first, window(SHIFTED), NOW + HOUR)
    after_second = with_status(body, second)
    assert after_second["status"]["drift"]["consecutive"] == 2
    decision = decide_drift_run(rtj, after_second, None, False, NOW + HOUR)
    assert decision.start
    assert decision.checked_at == NOW + HOUR
    assert f'"source":"live/{STABLE}"' in decision.summary


def test_batch_and_live_checks_share_one_streak() -> None:
    """A batch check after a live one counts into the same streak and leaves the live
    schedule alone: the next live check is still a window after the last live one."""
    first = reconcile(BODY, window(SHIFTED))
    previous = DriftStatus.model_validate(first.status["drift"])
    batch = Check(
        "batch/wine-nightly-1", NOW + HOUR / 2, 5000, 1, [CheckedFeature("income", 0.5, True)]
    )
    after_batch = judge(previous, batch, 0.2)
    assert (after_batch.consecutive, after_batch.source) == (2, "batch/wine-nightly-1")
    assert after_batch.live_checked_at == NOW
    outcome = decide_live(MD, after_batch, STABLE, READY, LiveReading(), NOW + HOUR / 2)
    assert outcome.wake_at == NOW + HOUR
