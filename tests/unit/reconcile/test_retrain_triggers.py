"""Drift triggers: switched on, windows, cooldown, one run in flight, the same check twice."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from modelship.api.retrain_job import RetrainJob, TriggerRecord
from modelship.reconcile.retrain_triggers import DriftStatus, decide_drift_run, run_suffix, summary
from support.custom_resources import retrain_job_body

NOW = datetime.fromisoformat("2026-01-02T12:00:00+00:00")
CHECK = "2026-01-02T11:55:00Z"
CHECKED = datetime.fromisoformat(CHECK)


def rtj(drift: dict[str, Any] | None = None, **spec: Any) -> RetrainJob:
    triggers = {"triggers": {"drift": drift}} if drift is not None else {}
    return RetrainJob.model_validate(retrain_job_body(**triggers, **spec))


def target(
    drifted: bool = True, consecutive: int = 1, action: dict[str, Any] | None = None
) -> dict[str, Any]:
    monitoring = {"monitoring": {"drift": action}} if action else {}
    return {
        "metadata": {"name": "wine", "namespace": "ml"},
        "spec": monitoring,
        "status": {
            "drift": {
                "drifted": drifted,
                "checkedAt": CHECK,
                "source": "online",
                "consecutive": consecutive,
                "since": CHECK,
                "features": [
                    {"name": "alcohol", "psi": 0.41, "drifted": True},
                    {"name": "ph", "psi": 0.02, "drifted": False},
                ],
                "message": "1 of 2 features drifted",
            }
        },
    }


def triggered(run: str, at: datetime, checked: datetime | None = None) -> TriggerRecord:
    return TriggerRecord(run=run, at=at, checked_at=checked)


RETRAIN = {"action": "retrain", "retrainJob": "nightly"}
EARLIER = datetime.fromisoformat("2026-01-01T00:00:00+00:00")


@pytest.mark.parametrize(
    ("job", "deployment", "last", "in_flight", "start", "why"),
    [
        (rtj(), target(), None, False, False, "Drift does not trigger this RetrainJob."),
        (rtj({"enabled": False}), target(action=RETRAIN), None, False, False,
         "Drift does not trigger this RetrainJob."),
        (rtj({}), target(), None, False, True, "Drift for 1 consecutive windows"),
        # The deployment's own action names this RetrainJob: that switches it on too.
        (rtj(), target(action=RETRAIN), None, False, True, "Drift for 1"),
        (rtj(), target(action={"action": "retrain", "retrainJob": "other"}), None, False, False,
         "Drift does not trigger"),
        (rtj({}), target(drifted=False), None, False, False, "The deployment reports no drift."),
        (rtj({}), {"metadata": {"name": "wine"}}, None, False, False, "The deployment reports no"),
        (rtj({}), None, None, False, False, "The deployment reports no drift."),
        (rtj({"windows": 3}), target(consecutive=2), None, False, False,
         "Drifted for 2 of the 3 consecutive windows wanted."),
        (rtj({"windows": 3}), target(consecutive=3), None, False, True, "Drift for 3"),
        (rtj({}), target(), None, True, False, "A run is in flight"),
        (rtj({}), target(), triggered("nightly-drift-1", EARLIER, CHECKED), False, False,
         "The drift check at 2026-01-02T11:55:00+00:00 already started nightly-drift-1."),
        (rtj({"minInterval": "24h"}), target(), triggered("r", NOW - timedelta(hours=23)),
         False, False, "Cooling down until 2026-01-02T13:00:00+00:00"),
        (rtj({"minInterval": "24h"}), target(), triggered("r", NOW - timedelta(hours=24)),
         False, True, "Drift for 1"),
        (rtj({}, suspend=True), target(), None, False, False, "Suspended"),
    ],
)  # fmt: skip
def test_when_drift_starts_a_run(
    job: RetrainJob,
    deployment: dict[str, Any] | None,
    last: TriggerRecord | None,
    in_flight: bool,
    start: bool,
    why: str,
) -> None:
    decision = decide_drift_run(job, deployment, last, in_flight, NOW)
    assert (decision.start, decision.why[: len(why)]) == (start, why)


def test_the_cooldown_end_is_when_to_look_again() -> None:
    last = triggered("r", NOW - timedelta(hours=1))
    decision = decide_drift_run(rtj({"minInterval": "2h"}), target(), last, False, NOW)
    assert decision.wake_at == NOW + timedelta(hours=1)


def test_a_started_run_carries_the_check_and_a_compact_summary() -> None:
    decision = decide_drift_run(rtj({}), target(), None, False, NOW)
    assert decision.checked_at == CHECKED
    assert json.loads(decision.summary) == {
        "checkedAt": "2026-01-02T11:55:00+00:00",
        "source": "online",
        "consecutive": 1,
        "features": [{"name": "alcohol", "psi": 0.41}],
    }
    # The same check names the same Job: a second start would be refused as existing.
    assert run_suffix(CHECKED, NOW) == run_suffix(CHECKED, NOW + timedelta(hours=1))


def test_the_summary_stays_bounded_with_many_features() -> None:
    drift = DriftStatus.model_validate(
        {
            "drifted": True,
            "consecutive": 1,
            "features": [{"name": f"f{i:03}" * 20, "psi": i, "drifted": True} for i in range(500)],
        }
    )
    text = summary(drift)
    assert len(text) <= 4096
    assert json.loads(text)["features"][0]["psi"] == 499
