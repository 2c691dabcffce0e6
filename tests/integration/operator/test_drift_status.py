"""Drift from batch runs reaches a ModelDeployment's status, the real operator against the
emulated API server.

The test plays the CronJob and Job controllers and the kubelet: it runs the batch CronJob's
own `score` command line (its args and environment, with the pod's paths mapped onto this
machine) on a real packaged model, once on a table with shifted features and once on an
unshifted one, and puts what `score` wrote to the termination message file on the pod's
status before marking the Job complete. Proves that status.drift, the Drifted condition,
the Warning Event and the modelship_drift_* series follow each run, one judgement per run,
with no storage credentials involved; and that with `action: retrain` a drifted night starts
one run of the named RetrainJob, and the next drifted night inside the cooldown none.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import joblib
import pytest
from modelship_serving.packaging.package import package_model
from support import reconcile_states
from support.harness import EmulatedCluster
from support.scenarios import (
    MD_API,
    condition,
    create,
    drift_retrain_job,
    drift_runs,
    get,
    job_pod_ended,
    model_deployment,
    patch,
    status_of,
    wait_for,
)
from support.sklearn_models import churn_classifier, customer_rows, mixed_frame

NS = "ml"
NIGHTLY = {**reconcile_states.NIGHTLY, "input": {"uri": "s3://data/in.csv"}, "batchSize": 500}
DRIFT = {"drift": {"threshold": 0.2, "action": "alert"}}
TERMINATION_LOG = "/dev/termination-log"


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `wine` model the ModelDeployment names: a churn classifier with its profile."""
    work = tmp_path_factory.mktemp("drift-model")
    train = mixed_frame(400, seed=1)
    joblib.dump(churn_classifier(train), work / "model.joblib")
    train.to_csv(work / "train.csv", index=False)
    package_model(work / "model.joblib", work / "train.csv", "wine", "1", work / "repository")
    return work / "repository"


def run_score(cron_job: dict[str, Any], job: str, table: Path, repository: Path) -> str:
    """Run the CronJob's score container for the Job ``job``; what it left as its
    termination message."""
    [container] = cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["terminationMessagePath"] == TERMINATION_LOG
    assert container["terminationMessagePolicy"] == "File"
    work = table.parent
    places = {
        "/models": str(repository),
        "s3://data/in.csv": str(table),
        "s3://data/": f"{work}/",
        TERMINATION_LOG: str(work / f"{job}.termination-log"),
    }

    def here(argument: str) -> str:
        for pod_path, local in places.items():
            if argument.startswith(pod_path):
                return local + argument[len(pod_path) :]
        return argument

    # The kubelet fills MODELSHIP_BATCH_RUN from the pod's job-name label.
    environment = {e["name"]: e.get("value", job) for e in container["env"] if e["name"] != "HOME"}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "modelship"), *map(here, container["args"])],
        env=os.environ | environment | {"HOME": str(work)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (work / f"out-{job}.parquet.drift.json").is_file()
    return (work / f"{job}.termination-log").read_text()


def finish_job(cluster: EmulatedCluster, cron_job: dict[str, Any], job: str, message: str) -> None:
    """The Job the CronJob started, its pod's score container ended with ``message``, then
    the Job complete: what the Job controller and the kubelet would leave."""
    meta = cron_job["metadata"]
    owner = {"apiVersion": "batch/v1", "kind": "CronJob", "name": meta["name"], "uid": meta["uid"]}
    template = cron_job["spec"]["jobTemplate"]
    created = create(
        cluster,
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": job,
                "namespace": NS,
                "labels": template["metadata"]["labels"],
                "ownerReferences": [owner | {"controller": True, "blockOwnerDeletion": True}],
            },
            "spec": template["spec"],
        },
    )
    finished_at = f"2026-01-0{job[-1]}T02:05:00Z"
    terminated = {
        "exitCode": 0,
        "reason": "Completed",
        "message": message,
        "finishedAt": finished_at,
    }
    job_pod_ended(cluster, created, terminated)
    complete = {"type": "Complete", "status": "True", "lastTransitionTime": finished_at}
    status = {"succeeded": 1, "completionTime": finished_at, "conditions": [complete]}
    patch(cluster, "batch/v1", "Job", NS, job, {"status": status}, status=True)


def test_batch_runs_drive_status_drift_the_condition_the_event_and_the_metrics(
    cluster: EmulatedCluster, repository: Path, tmp_path: Path
) -> None:
    metrics = cluster.operator.restart_with_metrics()
    create(cluster, model_deployment("wine", NS, batch=[NIGHTLY], monitoring=DRIFT))
    cron_job = wait_for(
        "the batch CronJob", lambda: get(cluster, "batch/v1", "CronJob", NS, "wine-nightly")
    )

    def drift(source: str) -> dict[str, Any] | None:
        md = get(cluster, MD_API, "ModelDeployment", NS, "wine") or {}
        found = (md.get("status") or {}).get("drift") or {}
        return md if found.get("source") == source else None

    # Night 1: everyone is 40 years older than anyone in training, and lives elsewhere.
    shifted = customer_rows(2000)
    shifted["age"] = shifted["age"] + 40
    shifted["city"] = "marseille"
    (tmp_path / "shifted").mkdir()
    shifted.to_csv(tmp_path / "shifted" / "in.csv", index=False)
    message = run_score(cron_job, "wine-nightly-1", tmp_path / "shifted" / "in.csv", repository)
    assert len(message.encode()) < 4096
    finish_job(cluster, cron_job, "wine-nightly-1", message)

    md = wait_for("the shifted run's drift", lambda: drift("batch/wine-nightly-1"))
    status = md["status"]["drift"]
    assert status["drifted"] is True
    assert (status["consecutive"], status["checkedAt"], status["since"]) == (
        1,
        "2026-01-01T02:05:00Z",
        "2026-01-01T02:05:00Z",
    )
    assert {f["name"] for f in status["features"] if f["drifted"]} == {"age", "city"}
    assert status["features"][0]["psi"] >= status["features"][-1]["psi"]
    drifted = condition(md, "Drifted")
    assert (drifted["status"], drifted["reason"]) == ("True", "Drifted")
    assert "age (PSI" in drifted["message"]
    assert "city (PSI" in drifted["message"]
    warnings = wait_for(
        "the Warning Event",
        lambda: [e for e in cluster.objects("events") if e.get("reason") == "Drifted"],
    )
    assert [(e["type"], e["message"]) for e in warnings] == [("Warning", drifted["message"])]
    wait_for(
        "the drift series",
        lambda: (
            'modelship_drift_detected{name="wine",namespace="ml",source="batch"} 1.0'
            in (text := metrics())
            and 'modelship_drift_psi{feature="age",name="wine",namespace="ml",source="batch"}'
            in text
        ),
    )

    # Night 2: a table drawn like the training data.
    (tmp_path / "clean").mkdir()
    customer_rows(2000, seed=11).to_csv(tmp_path / "clean" / "in.csv", index=False)
    message = run_score(cron_job, "wine-nightly-2", tmp_path / "clean" / "in.csv", repository)
    finish_job(cluster, cron_job, "wine-nightly-2", message)

    md = wait_for("the clean run's drift", lambda: drift("batch/wine-nightly-2"))
    status = md["status"]["drift"]
    assert (status["drifted"], status["consecutive"]) == (False, 0)
    assert status.get("since") is None, status
    assert not any(f["drifted"] for f in status["features"])
    assert condition(md, "Drifted")["status"] == "False"
    wait_for(
        "the clean series",
        lambda: (
            'modelship_drift_detected{name="wine",namespace="ml",source="batch"} 0.0' in metrics()
        ),
    )
    warnings = [e for e in cluster.objects("events") if e.get("reason") == "Drifted"]
    assert len(warnings) == 1, "one Warning for one turn to drifted"


def test_a_drifted_batch_run_starts_one_retraining_run_and_the_next_within_the_cooldown_none(
    cluster: EmulatedCluster, repository: Path, tmp_path: Path
) -> None:
    """The whole loop's first half: `score`'s report reaches status.drift, which starts a run
    of the RetrainJob `action: retrain` names, with why in its environment; a second drifted
    night inside the cooldown starts nothing."""
    retrain = {"drift": {"threshold": 0.2, "action": "retrain", "retrainJob": "retrain"}}
    create(cluster, model_deployment("wine", NS, batch=[NIGHTLY], monitoring=retrain))
    create(cluster, drift_retrain_job("retrain", NS, minInterval="24h"))
    cron_job = wait_for(
        "the batch CronJob", lambda: get(cluster, "batch/v1", "CronJob", NS, "wine-nightly")
    )

    def drift_check(job: str) -> dict[str, Any] | None:
        check = status_of(cluster, "RetrainJob", NS, "retrain").get("driftCheck") or {}
        return check if check.get("checkedAt") == f"2026-01-0{job[-1]}T02:05:00Z" else None

    shifted = customer_rows(2000)
    shifted["age"] = shifted["age"] + 40
    for night in ("wine-nightly-1", "wine-nightly-2"):
        (tmp_path / night).mkdir()
        shifted.to_csv(tmp_path / night / "in.csv", index=False)
        message = run_score(cron_job, night, tmp_path / night / "in.csv", repository)
        finish_job(cluster, cron_job, night, message)
        check = wait_for(f"the RetrainJob to judge {night}", lambda n=night: drift_check(n))
        if night == "wine-nightly-1":
            assert check["started"] is True
            (run,) = wait_for("the drift-triggered run", lambda: drift_runs(cluster, NS))
            [trainer] = run["spec"]["template"]["spec"]["containers"]
            env = {e["name"]: e.get("value") for e in trainer["env"]}
            assert env["MODELSHIP_TRIGGER"] == "drift"
            summary = json.loads(env["MODELSHIP_DRIFT_SUMMARY"])
            assert [f["name"] for f in summary["features"]][:1] == ["age"]
            # The run ends, so nothing is in flight: only the cooldown holds the next one.
            done = {"succeeded": 1, "completionTime": "2026-01-01T03:00:00Z"}
            patch(cluster, "batch/v1", "Job", NS, run["metadata"]["name"], {"status": done}, True)
    assert check["started"] is False
    assert check["message"].startswith("Cooling down until")
    assert [r["metadata"]["name"] for r in drift_runs(cluster, NS)] == [run["metadata"]["name"]]
