"""RetrainJob decisions: its Job or CronJob, runs read from Jobs, and a finished run left alone."""

from __future__ import annotations

import json
from typing import Any

import pytest
from modelship.core.objects import Create, Delete, Ref, Refusal
from modelship.reconcile.retrain_job import Observed, decide
from modelship.reconcile.retrain_runs import results_wanted
from support.custom_resources import model_deployment_body, retrain_job_body
from support.reconcile_states import NOW, as_live

UID = "0b5c7a52-0000-4000-8000-0000000000aa"


def rtj_body(**spec: Any) -> dict[str, Any]:
    return retrain_job_body(uid=UID, generation=1, **spec)


def job(name: str, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "ml", "creationTimestamp": "2026-01-02T00:00:00Z"},
        "spec": {},
        "status": {"startTime": "2026-01-02T00:00:01Z", **status},
    }


FAILED = {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                          "message": "Job has reached the specified backoff limit",
                          "lastTransitionTime": "2026-01-02T00:10:00Z"}]}  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "kind", "name"),
    [({}, "Job", "nightly-run"), ({"schedule": "0 2 * * *"}, "CronJob", "nightly")],
)
def test_a_run_once_gets_a_job_and_a_schedule_a_cron_job(
    spec: dict[str, Any], kind: str, name: str
) -> None:
    decision = decide(Observed(body=rtj_body(**spec), children=[], runs=[], now=NOW))
    assert [(a.ref.kind, a.ref.name) for a in decision.actions] == [(kind, name)]


@pytest.mark.parametrize(
    ("status", "outcome", "ready", "progressing"),
    [
        ({}, "Running", ("True", "WaitingForRun"), ("True", "RunActive")),
        ({"succeeded": 1, "completionTime": "2026-01-02T00:09:00Z"}, "Succeeded",
         ("True", "RunSucceeded"), ("False", "WaitingForRun")),
        (FAILED, "Failed", ("False", "RunFailed"), ("False", "WaitingForRun")),
    ],
)  # fmt: skip
def test_the_last_run_comes_from_its_job(
    status: dict[str, Any], outcome: str, ready: tuple[str, str], progressing: tuple[str, str]
) -> None:
    run = job("nightly-run", **status)
    decision = decide(Observed(body=rtj_body(), children=[], runs=[run], now=NOW))
    assert decision.status["lastRun"]["outcome"] == outcome
    conditions = {c["type"]: (c["status"], c["reason"]) for c in decision.status["conditions"]}
    assert conditions == {"Ready": ready, "Progressing": progressing}


def test_a_finished_run_once_job_that_was_cleaned_up_is_not_run_again() -> None:
    finished = job("nightly-run", succeeded=1, completionTime="2026-01-02T00:09:00Z")
    first = decide(Observed(body=rtj_body(), children=[], runs=[finished], now=NOW))
    body = {**rtj_body(), "status": first.status}
    again = decide(Observed(body=body, children=[], runs=[], now=NOW))
    assert again.actions == ()
    assert again.status_patch == {}


def test_a_running_job_is_not_patched_when_the_template_changes() -> None:
    first = decide(Observed(body=rtj_body(), children=[], runs=[], now=NOW))
    live = as_live(dict(first.actions[0].manifest))  # type: ignore[union-attr]
    changed = rtj_body(template={"image": "trainer:2"})
    decision = decide(Observed(body=changed, children=[live], runs=[live], now=NOW))
    assert decision.actions == ()


SUCCEEDED = {"succeeded": 1, "completionTime": "2026-01-02T00:09:00Z"}
RESULT = '{"version": "7", "uri": "s3://models/wine/nightly-run", "metrics": {"auc": 0.91}}'


@pytest.mark.parametrize(
    ("message", "outcome", "result", "text"),
    [
        (
            RESULT,
            "AwaitingApproval",  # judged at once: without validation.data, on its own metric
            {"version": "7", "uri": "s3://models/wine/nightly-run", "metrics": {"auc": 0.91}},
            "Validated: auc 0.91; there is no champion to beat. Waiting for approval: "
            "kubectl modelship approve rtj/nightly (or reject).",
        ),
        (
            '{"version": "7"}',
            "Failed",
            None,
            "The trainer finished, but its termination message is not a valid result (uri: Field "
            "required); it must write JSON with version and uri to /dev/termination-log.",
        ),
    ],
)
def test_the_trainer_result_comes_from_its_termination_message(
    message: str, outcome: str, result: dict[str, Any] | None, text: str
) -> None:
    run = job("nightly-run", **SUCCEEDED)
    observed = Observed(
        body=rtj_body(), children=[], runs=[run], now=NOW, results={"nightly-run": message}
    )
    last = decide(observed).status["lastRun"]
    assert (last["outcome"], last.get("result"), last["message"]) == (outcome, result, text)


def test_a_result_is_read_once_then_kept_in_the_status() -> None:
    run = job("nightly-run", **SUCCEEDED)
    body = rtj_body()
    assert results_wanted(body, [run]) == ["nightly-run"]
    first = decide(
        Observed(body=body, children=[], runs=[run], now=NOW, results={"nightly-run": RESULT})
    )
    body = {**body, "status": first.status}
    assert results_wanted(body, [run]) == []
    again = decide(Observed(body=body, children=[], runs=[run], now=NOW))
    assert again.status["lastRun"]["result"]["version"] == "7"
    assert again.status_patch == {}


def test_a_job_the_api_server_refuses_shows_as_ready_false_with_its_words() -> None:
    """The executor hands a refusal back in (422, or 403 from an admission policy)."""
    refusal = Refusal.of(
        Ref("batch/v1", "Job", "ml", "nightly-run"),
        'admission webhook "images.example.com" denied the request: image not allowed',
    )
    observed = Observed(body=rtj_body(), children=[], runs=[], now=NOW, refused=refusal)
    decision = decide(observed)
    assert decision.actions == ()
    conditions = {c["type"]: c for c in decision.status["conditions"]}
    assert (conditions["Ready"]["status"], conditions["Ready"]["reason"]) == (
        "False",
        "ChildRejected",
    )
    assert "image not allowed" in conditions["Ready"]["message"]
    assert decision.status["observedGeneration"] == 1


# The loop after training: validate against the champion, judge, promote, and see rollbacks.

HOLDOUT = {"metric": "accuracy", "data": "s3://data/wine/holdout.csv", "label": "quality"}
CANDIDATE = (
    '{"version": "8", "uri": "s3://models/wine/nightly-run", "lineage": {"codeRef": "abc1"}}'
)
SERVING = {
    "stable": {"name": "wine-0123456789", "version": "7", "uri": "s3://models/wine/7"},
}


def report(candidate: float, champion: float | None) -> str:
    scored = {"uri": "s3://models/wine/7", "metrics": {"accuracy": champion}}
    return json.dumps(
        {
            "task": "classification",
            "rows": 100,
            "label": "quality",
            "candidate": {
                "uri": "s3://models/wine/nightly-run",
                "metrics": {"accuracy": candidate},
            },
            "champion": scored if champion is not None else None,
        }
    )


def target() -> dict[str, Any]:
    body = model_deployment_body("wine", "ml", serving={"image": "serving:1"})
    body["spec"]["model"]["credentialsSecret"] = "s3-creds"
    return body | {"status": SERVING}


class Loop:
    """One RetrainJob through successive reconciles, its status carried from one to the next."""

    def __init__(self, **spec: Any) -> None:
        self.body = rtj_body(validation=HOLDOUT, **spec)
        self.trainer = job("nightly-run", **SUCCEEDED)
        self.jobs: list[dict[str, Any]] = []  # the validation Jobs live now
        self.candidate = CANDIDATE  # what the trainer reports

    def step(self, **observed: Any) -> Any:
        defaults = {
            "body": self.body,
            "children": [self.trainer, *self.jobs],
            "runs": [self.trainer, *self.jobs],
            "now": NOW,
            "results": {"nightly-run": self.candidate},
            "target": target(),
        }
        decision = decide(Observed(**(defaults | observed)))
        self.body = {**self.body, "status": decision.status}
        return decision

    def validation_job(self, **status: Any) -> dict[str, Any]:
        created = self.step().actions
        manifest = next(a.manifest for a in created if a.ref.name == "nightly-run-validate")  # type: ignore[union-attr]
        live = as_live(dict(manifest))
        live["status"] = status
        self.jobs = [live]
        return live


def test_a_trained_candidate_gets_a_validation_job_against_the_stable_revision() -> None:
    loop = Loop()
    decision = loop.step()
    (create,) = decision.actions
    assert create.ref.name == "nightly-run-validate"
    container = create.manifest["spec"]["template"]["spec"]["containers"][0]  # type: ignore[union-attr]
    assert container["args"][:5] == [
        "evaluate", "--candidate", "s3://models/wine/nightly-run", "--champion", "s3://models/wine/7",
    ]  # fmt: skip
    last = decision.status["lastRun"]
    assert (last["outcome"], last["validation"]["championUri"]) == (
        "Validating",
        SERVING["stable"]["uri"],
    )
    conditions = {c["type"]: (c["status"], c["reason"]) for c in decision.status["conditions"]}
    assert conditions["Progressing"] == ("True", "Validating")


def test_a_better_candidate_is_promoted_with_its_lineage_and_scores() -> None:
    loop = Loop(promotion="Automatic")
    loop.validation_job(succeeded=1)
    decision = loop.step(reports={"nightly-run-validate": report(0.93, 0.9)})
    last = decision.status["lastRun"]
    assert last["outcome"] == "Promoted"
    assert (last["validation"]["candidate"], last["validation"]["champion"]) == (0.93, 0.9)
    assert decision.status["promoted"] == {
        "version": "8",
        "uri": "s3://models/wine/nightly-run",
        "metrics": {"accuracy": 0.93},
        "lineage": {"codeRef": "abc1", "dataUri": "s3://data/wine/", "parameters": {}},
    }
    assert [(e.type, e.reason) for e in decision.events] == [("Normal", "CandidatePromoted")]
    # The validation Job and its report stay for inspection; nothing is judged twice.
    again = loop.step()
    assert again.actions == ()
    assert again.status_patch == {}


def test_a_worse_candidate_is_rejected_and_nothing_is_promoted() -> None:
    loop = Loop(promotion="Automatic")
    loop.validation_job(succeeded=1)
    decision = loop.step(reports={"nightly-run-validate": report(0.85, 0.9)})
    last = decision.status["lastRun"]
    assert (last["outcome"], last["validation"]["reason"]) == ("Rejected", "ChampionNotBeaten")
    assert "promoted" not in decision.status
    assert [(e.type, e.reason) for e in decision.events] == [("Warning", "CandidateRejected")]


def test_a_failed_validation_job_fails_the_run() -> None:
    loop = Loop(promotion="Automatic")
    loop.validation_job(**FAILED)
    last = loop.step().status["lastRun"]
    assert last["outcome"] == "Failed"
    assert last["message"].startswith("Validation Job nightly-run-validate failed")


def test_manual_promotion_waits_for_approve_and_acts_on_each_nonce_once() -> None:
    loop = Loop()
    loop.validation_job(succeeded=1)
    waiting = loop.step(reports={"nightly-run-validate": report(0.93, 0.9)})
    assert waiting.status["lastRun"]["outcome"] == "AwaitingApproval"
    assert "promoted" not in waiting.status
    loop.body["metadata"]["annotations"] = {"retrain.modelship.dev/command": "approve/1a2b"}
    approved = loop.step()
    assert approved.status["lastRun"]["outcome"] == "Promoted"
    assert approved.status["promoted"]["version"] == "8"
    assert approved.status["command"] == "approve/1a2b"
    assert loop.step().status_patch == {}


def test_reject_drops_the_waiting_candidate() -> None:
    loop = Loop()
    loop.validation_job(succeeded=1)
    loop.step(reports={"nightly-run-validate": report(0.93, 0.9)})
    loop.body["metadata"]["annotations"] = {"retrain.modelship.dev/command": "reject/9f"}
    rejected = loop.step()
    assert rejected.status["lastRun"]["outcome"] == "Rejected"
    assert "promoted" not in rejected.status


def test_a_follower_rolling_back_the_promoted_version_is_reported() -> None:
    loop = Loop(promotion="Automatic")
    loop.validation_job(succeeded=1)
    loop.step(reports={"nightly-run-validate": report(0.93, 0.9)})
    follower = model_deployment_body("wine-canary", "ml") | {
        "status": {"history": [{"revision": "wine-canary-1", "version": "8", "uri": "s3://x",
                                "deployedAt": "2026-01-02T00:00:00Z", "outcome": "RolledBack",
                                "message": "error rate 0.2 > 0.05"}]},
    }  # fmt: skip
    decision = loop.step(followers=[follower])
    assert decision.status["lastRun"]["outcome"] == "RolledBack"
    ready = next(c for c in decision.status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "RolledBack")
    assert "ModelDeployment wine-canary rolled back version 8: error rate" in ready["message"]


def test_without_holdout_data_the_trainer_metric_is_judged_against_the_last_promoted() -> None:
    body = rtj_body(promotion="Automatic")
    body["status"] = {
        "promoted": {"version": "6", "uri": "s3://models/wine/6", "metrics": {"auc": 0.95}}
    }
    decision = decide(
        Observed(body=body, children=[], runs=[job("nightly-run", **SUCCEEDED)], now=NOW,
                 results={"nightly-run": RESULT})
    )  # fmt: skip
    last = decision.status["lastRun"]
    assert (last["outcome"], last["validation"]["reason"]) == ("Rejected", "ChampionNotBeaten")
    assert decision.status["promoted"]["version"] == "6"


def test_drift_starts_one_run_per_check() -> None:
    body = rtj_body(triggers={"drift": {"minInterval": "1h"}})
    drifted = target() | {"status": {"drift": {"drifted": True, "consecutive": 1,
                                               "checkedAt": "2026-01-02T03:00:00Z"}}}  # fmt: skip
    first = decide(Observed(body=body, children=[], runs=[], now=NOW, target=drifted))
    created = [a.ref.name for a in first.actions]
    assert created[-1].startswith("nightly-drift-")
    env = {
        e["name"]: e.get("value")
        for e in first.actions[-1].manifest["spec"]["template"]["spec"]["containers"][0]["env"]
    }  # type: ignore[union-attr]
    assert env["MODELSHIP_TRIGGER"] == "drift"
    assert json.loads(env["MODELSHIP_DRIFT_SUMMARY"])["checkedAt"] == "2026-01-02T03:00:00+00:00"
    assert first.status["lastTrigger"]["run"] == created[-1]
    assert [e.reason for e in first.events] == ["DriftTriggered"]
    body = {**body, "status": first.status}
    again = decide(Observed(body=body, children=[], runs=[], now=NOW, target=drifted))
    assert [a.ref.name for a in again.actions] == created[:-1]


# A run-once RetrainJob whose spec changes: new training inputs train again, other edits do not.


def finished_run_once(**spec: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A run-once RetrainJob after its run succeeded; (its body with status, the live Job)."""
    first = decide(Observed(body=rtj_body(**spec), children=[], runs=[], now=NOW))
    live = as_live(dict(first.actions[0].manifest))  # type: ignore[union-attr]
    live["status"] = {"startTime": "2026-01-02T00:00:01Z", **SUCCEEDED}
    return {**rtj_body(**spec), "status": first.status}, live


@pytest.mark.parametrize(
    ("change", "new_run"),
    [
        ({"template": {"image": "trainer:2"}}, True),
        ({"data": {"uri": "s3://data/wine/", "version": "v2"}}, True),
        ({"validation": {"metric": "auc", "threshold": 0.9}}, False),
        ({"promotion": "Automatic", "historyLimit": 5}, False),
    ],
)
def test_new_training_inputs_start_a_new_run_and_keep_the_old_one(
    change: dict[str, Any], new_run: bool
) -> None:
    body, live = finished_run_once()
    changed = {**body, "spec": {**body["spec"], **change}}
    decision = decide(Observed(body=changed, children=[live], runs=[live], now=NOW))
    created = [a.ref.name for a in decision.actions if isinstance(a, Create)]
    assert not [a for a in decision.actions if isinstance(a, Delete)]  # the old run stays
    if new_run:
        (name,) = created
        assert name.startswith("nightly-run-")
        assert decision.status["runOnce"]["run"] == name.removeprefix("nightly-")
    else:
        assert created == []


def test_a_change_while_the_run_trains_waits_for_it() -> None:
    body, live = finished_run_once()
    del live["status"]["succeeded"], live["status"]["completionTime"]
    changed = {**body, "spec": {**body["spec"], "template": {"image": "trainer:2"}}}
    decision = decide(Observed(body=changed, children=[live], runs=[live], now=NOW))
    assert decision.actions == ()


def test_a_waiting_candidate_whose_jobs_were_cleaned_up_can_still_be_approved() -> None:
    loop = Loop()
    loop.validation_job(succeeded=1)
    loop.step(reports={"nightly-run-validate": report(0.93, 0.9)})
    loop.body["metadata"]["annotations"] = {"retrain.modelship.dev/command": "approve/77"}
    approved = loop.step(children=[], runs=[], results={})
    assert approved.status["lastRun"]["outcome"] == "Promoted"
    assert approved.status["promoted"]["uri"] == "s3://models/wine/nightly-run"
    assert approved.actions == ()  # the finished run is not started again


def test_promoted_metrics_stay_within_bounds_with_the_validation_scores_first() -> None:
    many = {f"m{i:02}": float(i) for i in range(64)}
    candidate = json.dumps({"version": "8", "uri": "s3://models/wine/nightly-run", "metrics": many})
    loop = Loop(promotion="Automatic")
    loop.candidate = candidate
    loop.validation_job(succeeded=1)
    decision = loop.step(reports={"nightly-run-validate": report(0.93, 0.9)})
    metrics = decision.status["promoted"]["metrics"]
    assert len(metrics) == 64
    assert metrics["accuracy"] == 0.93
