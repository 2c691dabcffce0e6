"""status.drift and the Drifted condition from batch runs' drift summaries.

Pure cases over the rule (PSI above monitoring.drift.threshold AND significant), the
streak (consecutive, since), each run counted once, the bounds, and summaries that cannot
be read; then decide() as a whole: Ready does not depend on drift, a Warning when
Drifted turns True, and nothing drift-related without monitoring.drift.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from modelship.api.model_deployment import ModelDeployment
from modelship.api.model_deployment_status import DriftStatus
from modelship.core.objects import Event
from modelship.reconcile.drift import (
    FinishedRun,
    decide_drift,
    runs_to_judge,
    termination_message,
)
from modelship.reconcile.model_deployment import Observed, decide
from support.reconcile_states import NIGHTLY, NOW, first_drift, md_body

MONITORED = md_body(batch=[NIGHTLY], monitoring={"drift": {"threshold": 0.2}})
MD = ModelDeployment.model_validate(MONITORED)
DAY = datetime(2026, 1, 3, 2, 5, tzinfo=UTC)


def summary(*features: tuple[str, float, bool], rows: int = 5000, count: int = 0) -> str:
    """A termination message as `score --drift-summary` writes it."""
    return json.dumps(
        {
            "version": 1,
            "rows": rows,
            "referenceRows": 400,
            "threshold": 0.2,
            "finishedAt": "2026-01-03T02:05:00+00:00",
            "output": "s3://data/out-x.parquet",
            "featureCount": count or len(features),
            "features": [
                {"name": name, "psi": psi, "significant": significant, "drifted": False}
                for name, psi, significant in features
            ],
        }
    )


SHIFTED = summary(("age", 1.7, True), ("city", 0.9, True), ("plan", 0.01, False))
CLEAN = summary(("age", 0.05, False), ("city", 0.02, False), ("plan", 0.01, False))


def finished(day: int, message: str | None) -> FinishedRun:
    return FinishedRun(f"wine-nightly-{day}", DAY + timedelta(days=day), message)


def judged(*runs: FinishedRun, previous: DriftStatus | None = None) -> DriftStatus | None:
    return decide_drift(MD, previous, runs).status


def test_a_shifted_run_drifts_on_the_features_over_the_threshold_and_significant() -> None:
    status = judged(finished(0, SHIFTED))
    assert status is not None
    assert status.model_dump(mode="json", by_alias=True, exclude_none=True) == first_drift(
        "2026-01-03T02:05:00Z",
        "batch/wine-nightly-0",
        [("age", 1.7, True), ("city", 0.9, True), ("plan", 0.01, False)],
        "2 feature(s) drifted in batch/wine-nightly-0 (5000 rows, 3 features)"
        " beyond PSI 0.2: age (PSI 1.70), city (PSI 0.90).",
    )


def test_psi_over_the_threshold_without_significance_is_not_drift() -> None:
    """A small batch's PSI is biased upwards: the run's significance gate decides with it."""
    noisy = summary(("age", 0.6, False), ("city", 0.15, True), rows=40)
    status = judged(finished(0, noisy))
    assert status is not None
    assert not status.drifted
    assert status.consecutive == 0
    assert status.since is None
    assert status.message == (
        "No feature drifted in batch/wine-nightly-0 (40 rows, 2 features) beyond PSI 0.2;"
        " highest PSI age (0.60)."
    )


def test_the_threshold_is_the_deployments_not_the_runs() -> None:
    """A summary written at score's default 0.25 is judged at monitoring's 0.2."""
    status = judged(finished(0, summary(("age", 0.22, True))))
    assert status is not None
    assert status.drifted


def test_drifted_runs_in_a_row_count_and_a_clean_one_resets() -> None:
    first = judged(finished(0, SHIFTED), finished(1, SHIFTED))
    assert first is not None
    assert (first.consecutive, first.since, first.source) == (2, DAY, "batch/wine-nightly-1")
    third = judged(finished(2, SHIFTED), previous=first)
    assert third is not None
    assert (third.consecutive, third.since) == (3, DAY)
    clean = judged(finished(3, CLEAN), previous=third)
    assert clean is not None
    assert (clean.drifted, clean.consecutive, clean.since) == (False, 0, None)
    again = judged(finished(4, SHIFTED), previous=clean)
    assert again is not None
    assert (again.consecutive, again.since) == (1, DAY + timedelta(days=4))


def job(name: str, completed: str | None, owner: str = "wine-nightly") -> dict[str, Any]:
    status: dict[str, Any] = {}
    if completed is not None:
        status = {
            "completionTime": completed,
            "conditions": [{"type": "Complete", "status": "True"}],
        }
    ref = {"kind": "CronJob", "name": owner, "uid": "c1", "controller": True}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "ml", "ownerReferences": [ref]},
        "status": status,
    }


JOBS = [
    job("wine-nightly-3", "2026-01-04T02:05:00Z"),
    job("wine-nightly-2", "2026-01-03T02:05:00Z"),
    job("wine-nightly-4", None),  # still running
    job("other-nightly-1", "2026-01-04T03:00:00Z", owner="other-nightly"),
]


def test_each_completed_run_is_judged_once_oldest_first() -> None:
    assert [run.job for run in runs_to_judge(MD, None, JOBS)] == [
        "wine-nightly-2",
        "wine-nightly-3",
    ]
    status = judged(FinishedRun("wine-nightly-2", DAY, SHIFTED))
    assert [run.job for run in runs_to_judge(MD, status, JOBS)] == ["wine-nightly-3"]
    later = judged(FinishedRun("wine-nightly-3", DAY + timedelta(days=1), SHIFTED))
    assert runs_to_judge(MD, later, JOBS) == []


def test_no_pod_is_read_without_drift_monitoring() -> None:
    unmonitored = ModelDeployment.model_validate(md_body(batch=[NIGHTLY]))
    assert runs_to_judge(unmonitored, None, JOBS) == []
    assert decide_drift(unmonitored, None, [finished(0, SHIFTED)]).verdict is None


def test_the_status_lists_the_16_features_with_the_highest_psi() -> None:
    many = summary(*((f"f{i:02d}", i / 10, True) for i in range(40)), count=60)
    status = judged(finished(0, many))
    assert status is not None
    assert [feature.name for feature in status.features] == [f"f{i:02d}" for i in range(39, 23, -1)]
    assert status.message == (
        "37 feature(s) drifted in batch/wine-nightly-0 (5000 rows, 60 features) beyond PSI 0.2:"
        " f39 (PSI 3.90), f38 (PSI 3.80), f37 (PSI 3.70) and 34 more; 20 features with lower"
        " PSI were not reported."
    )


def test_an_unreadable_summary_leaves_the_status_and_says_why() -> None:
    before = judged(finished(0, SHIFTED))
    for message, why in [
        (None, "no pod of it shows how its score container ended"),
        ("", "its termination message is empty"),
        ("Error: out of memory", "its termination message is not a drift summary"),
        ('{"rows": 3}', "its termination message is not a drift summary"),
    ]:
        decision = decide_drift(MD, before, [finished(1, message)])
        assert decision.status == before
        assert decision.verdict is not None
        assert decision.verdict.status == "True"  # still the last check's
        assert f"The drift summary of Job wine-nightly-1 cannot be read: {why}" in (
            decision.verdict.message
        )
    first = decide_drift(MD, None, [finished(0, "garbage")])
    assert first.status is None
    assert first.verdict is not None
    assert (first.verdict.status, first.verdict.reason) == ("Unknown", "DriftSummaryUnreadable")


def test_a_newer_readable_run_moves_past_an_unreadable_one() -> None:
    decision = decide_drift(MD, None, [finished(0, "garbage"), finished(1, SHIFTED)])
    assert decision.status is not None
    assert decision.status.source == "batch/wine-nightly-1"
    assert decision.verdict is not None
    assert "cannot be read" not in decision.verdict.message


def test_only_a_score_container_that_succeeded_is_read() -> None:
    def pod(exit_code: int, message: str = "m") -> dict[str, Any]:
        terminated = {"exitCode": exit_code, "message": message}
        return {
            "status": {
                "containerStatuses": [{"name": "score", "state": {"terminated": terminated}}]
            }
        }

    assert termination_message(pod(0, SHIFTED)) == SHIFTED
    assert termination_message(pod(1)) is None
    assert termination_message({"status": {}}) is None


# --- decide() as a whole -------------------------------------------------------------------


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def reconcile(body: dict[str, Any], day: int, message: str | None) -> Any:
    run = job(f"wine-nightly-{day}", (DAY + timedelta(days=day)).isoformat())
    return decide(
        Observed(
            body=body,
            children=[],
            now=NOW,
            batch_runs=[run],
            batch_drift={} if message is None else {f"wine-nightly-{day}": message},
        )
    )


def test_decide_writes_drift_warns_once_and_leaves_ready_alone() -> None:
    waiting = decide(Observed(body=MONITORED, children=[], now=NOW))
    assert conditions(waiting.status)["Drifted"] == ("Unknown", "AwaitingDriftCheck")
    assert "drift" not in waiting.status

    shifted = reconcile({**MONITORED, "status": waiting.status}, 0, SHIFTED)
    assert shifted.status["drift"]["drifted"] is True
    assert conditions(shifted.status)["Drifted"] == ("True", "Drifted")
    assert conditions(shifted.status)["Ready"] == conditions(waiting.status)["Ready"]
    assert Event("Warning", "Drifted", shifted.status["drift"]["message"]) in shifted.events

    again = reconcile({**MONITORED, "status": shifted.status}, 1, SHIFTED)
    assert again.status["drift"]["consecutive"] == 2
    assert not [event for event in again.events if event.reason == "Drifted"]

    same = reconcile({**MONITORED, "status": again.status}, 1, SHIFTED)  # read again
    assert same.status["drift"] == again.status["drift"]

    clean = reconcile({**MONITORED, "status": again.status}, 2, CLEAN)
    assert conditions(clean.status)["Drifted"] == ("False", "NoDrift")
    assert [e.type for e in clean.events if e.reason == "NoDrift"] == ["Normal"]


def test_without_monitoring_drift_the_status_and_condition_go() -> None:
    monitored = reconcile(MONITORED, 0, SHIFTED)
    unmonitored = md_body(batch=[NIGHTLY])
    decision = reconcile({**unmonitored, "status": monitored.status}, 1, SHIFTED)
    assert "Drifted" not in conditions(decision.status)
    assert "drift" not in decision.status
