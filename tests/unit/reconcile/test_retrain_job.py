"""RetrainJob decisions: its Job or CronJob, runs read from Jobs, and a finished run left alone."""

from __future__ import annotations

from typing import Any

import pytest
from modelship.core.objects import Ref, Refusal
from modelship.reconcile.retrain_job import Observed, decide, results_wanted
from support.custom_resources import retrain_job_body
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
