"""The retraining loop, with the real operator against the emulated API server: a run trains,
a validation Job scores the candidate against the champion, and the verdict promotes it (or not).

The test plays the Job controller: it runs each trainer Job's container command here with the
Job's environment (a real scikit-learn trainer that packages its model with `modelship
package` into a local directory) and each validation Job's real `modelship evaluate`, and
reports how they ended as the kubelet would, in the pod's termination message. Proves: a
better candidate is validated, promoted with its lineage and rolled out to a following
ModelDeployment; a worse one is rejected and nothing changes; with `promotion: Manual` it
waits until `kubectl modelship approve rtj/NAME`; a pvc:// holdout is read from its claim,
mounted read-only in the validation Job.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from modelship.cli.kubectl_plugin import main as kubectl_modelship
from sklearn.datasets import load_wine
from support import wine_trainer
from support.custom_resources import model_deployment_body, model_following_body, retrain_job_body
from support.harness import EmulatedCluster
from support.scenarios import (
    MD_API,
    Obj,
    create,
    deployments,
    drift_runs,
    get,
    job_pod_ended,
    md_with,
    new_revision,
    patch,
    wait_for,
)

NS = "ml"
TRAINING_SECONDS = 180.0  # a run packages a model (skl2onnx, then a check on onnxruntime)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """The wine table, split into train.csv and holdout.csv under one directory."""
    table = load_wine(as_frame=True).frame.rename(columns={"target": "quality"})
    table = table.sample(frac=1.0, random_state=7).reset_index(drop=True)
    directory = tmp_path / "data"
    directory.mkdir()
    table.iloc[:120].to_csv(directory / "train.csv", index=False)
    table.iloc[120:].to_csv(directory / "holdout.csv", index=False)
    return directory


def train(job_env: dict[str, str], log: Path) -> str:
    """Run the trainer script with this environment; what it wrote as its termination message."""
    env = os.environ | job_env | {"MODELSHIP_TERMINATION_LOG": str(log)}
    subprocess.run([sys.executable, wine_trainer.__file__], env=env, check=True, timeout=300)
    return log.read_text()


def champion(tmp_path: Path, data: Path, quality: str) -> str:
    """The model the target deployment serves, trained earlier by the same trainer."""
    output = f"file://{tmp_path}/models/champion"
    train(
        {
            "MODELSHIP_DATA_URI": f"file://{data}",
            "MODELSHIP_OUTPUT_URI": output,
            "MODEL_VERSION": "1",
            "QUALITY": quality,
        },
        tmp_path / "champion.log",
    )
    return output


def run_container(job: Obj, log: Path) -> str:
    """The Job's container command run here, with its environment as the kubelet gives it."""
    container = job["spec"]["template"]["spec"]["containers"][0]
    env: dict[str, str] = {}
    for var in container["env"]:
        if "value" in var:  # $(NAME) refers to a variable defined before, as in Kubernetes
            env[var["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env[m[1]], var["value"])
        elif var["valueFrom"].get("fieldRef", {}).get("fieldPath", "").endswith("job-name']"):
            env[var["name"]] = job["metadata"]["name"]
    assert container["command"][1] == wine_trainer.__file__
    return train(env, log)


def evaluate(job: Obj, log: Path, claims: dict[str, Path] | None = None) -> str:
    """The validation Job's `modelship evaluate` run here with its arguments; its report.

    A mounted claim is played by a local directory (`claims`: claim name to directory): the
    arguments' paths under its mount are read from that directory instead."""
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["args"][0] == "evaluate"
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    args = list(container["args"])
    for mount in container["volumeMounts"]:
        claim = volumes[mount["name"]].get("persistentVolumeClaim")
        if claim is not None:
            assert claim["readOnly"]
            assert mount["readOnly"]
            local = (claims or {})[claim["claimName"]]
            prefix = f"file://{mount['mountPath']}/"
            args = [
                f"file://{local}/{a.removeprefix(prefix)}" if a.startswith(prefix) else a
                for a in args
            ]
    modelship = [sys.executable, "-c", "from modelship.cli import main; main()"]
    subprocess.run([*modelship, *args, "--termination-log", str(log)], check=True, timeout=300)
    return log.read_text()


def finish(cluster: EmulatedCluster, job: Obj, message: str) -> None:
    """The Job succeeded: its pod's container ended with this termination message."""
    job_pod_ended(cluster, job, {"exitCode": 0, "message": message})
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    done = {"startTime": now, "succeeded": 1, "completionTime": now}
    patch(cluster, "batch/v1", "Job", NS, job["metadata"]["name"], {"status": done}, True)


def job(cluster: EmulatedCluster, name: str) -> Obj:
    return wait_for(f"Job {name}", lambda: get(cluster, "batch/v1", "Job", NS, name))


def last_run(cluster: EmulatedCluster, outcome: str) -> Obj:
    def probe() -> Obj | None:
        found = get(cluster, MD_API, "RetrainJob", NS, "retrain") or {}
        run = (found.get("status") or {}).get("lastRun") or {}
        return found if run.get("outcome") == outcome else None

    return wait_for(f"the run {outcome}", probe, timeout=TRAINING_SECONDS)


def serving(cluster: EmulatedCluster, tmp_path: Path, data: Path, champion_quality: str) -> str:
    """The target deployment, serving a champion, Ready; its model uri."""
    uri = champion(tmp_path, data, champion_quality)
    body = model_deployment_body("wine", NS, serving={"image": "serving:1"})
    body["spec"]["model"]["uri"] = uri
    create(cluster, body)
    revision = wait_for("the champion's Deployment", lambda: deployments(cluster, NS, "wine"))[0]
    cluster.make_available(revision)
    md_with(cluster, NS, "wine", "Ready", "True", "Serving")
    return uri


def retraining(
    tmp_path: Path, data: Path, quality: str, promotion: str, holdout: str | None = None
) -> Obj:
    return retrain_job_body(
        "retrain",
        NS,
        model_deployment="wine",
        promotion=promotion,
        template={
            "image": "trainer:1",
            "command": [sys.executable, wine_trainer.__file__],
            "env": [{"name": "QUALITY", "value": quality}, {"name": "MODEL_VERSION", "value": "2"}],
        },
        data={"uri": f"file://{data}", "version": "wine-v2"},
        output={"uri": f"file://{tmp_path}/models/{{run}}"},
        validation={
            "metric": "accuracy",
            "data": holdout or f"file://{data}/holdout.csv",
            "label": "quality",
            "threshold": 0.8,
        },
    )


def train_and_validate(
    cluster: EmulatedCluster,
    tmp_path: Path,
    champion_uri: str,
    claims: dict[str, Path] | None = None,
) -> Obj:
    """Play the trainer Job and then the validation Job (its claims played by `claims`);
    the validation Job."""
    trainer = job(cluster, "retrain-run")
    finish(cluster, trainer, run_container(trainer, tmp_path / "run.log"))
    validation = job(cluster, "retrain-run-validate")
    args = validation["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--champion") + 1] == champion_uri
    finish(cluster, validation, evaluate(validation, tmp_path / "validate.log", claims))
    return validation


def test_a_better_candidate_is_validated_promoted_and_rolled_out(
    cluster: EmulatedCluster, tmp_path: Path, data: Path
) -> None:
    champion_uri = serving(cluster, tmp_path, data, champion_quality="bad")
    create(cluster, model_following_body("wine-next", NS, "retrain"))
    create(cluster, retraining(tmp_path, data, "good", "Automatic"))
    train_and_validate(cluster, tmp_path, champion_uri)

    status = last_run(cluster, "Promoted")["status"]
    validation = status["lastRun"]["validation"]
    assert validation["verdict"] == "Validated"
    assert validation["candidate"] > 0.8 > validation["champion"]
    promoted = status["promoted"]
    assert (promoted["version"], promoted["uri"]) == ("2", f"file://{tmp_path}/models/retrain-run")
    assert promoted["lineage"] == {
        "dataVersion": "wine-v2",
        "dataUri": f"file://{data}",
        "codeRef": "wine-trainer",
        "parameters": {"quality": "good"},
    }
    assert promoted["metrics"]["accuracy"] == validation["candidate"]
    assert status["lastRun"]["result"]["lineage"] == promoted["lineage"]
    rolled_out = wait_for("the follower's revision", lambda: deployments(cluster, NS, "wine-next"))
    assert rolled_out[0]["metadata"]["labels"]["modelship.dev/model-version"] == "2"

    def follower_history() -> list[Obj] | None:
        found = get(cluster, MD_API, "ModelDeployment", NS, "wine-next") or {}
        return (found.get("status") or {}).get("history")

    entry = wait_for("the follower's history", follower_history)[0]
    assert (entry["version"], entry["lineage"]) == ("2", promoted["lineage"])


def test_a_worse_candidate_is_rejected_and_nothing_changes(
    cluster: EmulatedCluster, tmp_path: Path, data: Path
) -> None:
    champion_uri = serving(cluster, tmp_path, data, champion_quality="good")
    before = deployments(cluster, NS, "wine")
    create(cluster, model_following_body("wine-next", NS, "retrain"))
    create(cluster, retraining(tmp_path, data, "bad", "Automatic"))
    train_and_validate(cluster, tmp_path, champion_uri)

    found = last_run(cluster, "Rejected")
    run = found["status"]["lastRun"]
    assert run["validation"]["reason"] in ("ThresholdNotMet", "ChampionNotBeaten")
    assert "promoted" not in found["status"]
    assert Path(f"{tmp_path}/models/retrain-run").is_dir()  # the artifact stays for inspection
    assert get(cluster, "batch/v1", "Job", NS, "retrain-run-validate") is not None
    md_with(cluster, NS, "wine-next", "Ready", "False", "ModelUnresolved")
    after = deployments(cluster, NS, "wine")
    assert [d["metadata"]["name"] for d in after] == [d["metadata"]["name"] for d in before]


def test_a_pvc_holdout_is_read_from_its_claim_mounted_in_the_validation_job(
    cluster: EmulatedCluster, tmp_path: Path, data: Path
) -> None:
    champion_uri = serving(cluster, tmp_path, data, champion_quality="bad")
    holdout = "pvc://wine-holdouts/holdout.csv"
    create(cluster, retraining(tmp_path, data, "good", "Automatic", holdout=holdout))
    validation = train_and_validate(cluster, tmp_path, champion_uri, {"wine-holdouts": data})
    args = validation["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--data") + 1] == "file:///mnt/claims/wine-holdouts/holdout.csv"
    run = last_run(cluster, "Promoted")["status"]["lastRun"]
    assert run["validation"]["verdict"] == "Validated"
    assert run["validation"]["candidate"] > 0.8 > run["validation"]["champion"]


def test_manual_promotion_waits_for_kubectl_modelship_approve(
    cluster: EmulatedCluster, tmp_path: Path, data: Path
) -> None:
    champion_uri = serving(cluster, tmp_path, data, champion_quality="bad")
    create(cluster, retraining(tmp_path, data, "good", "Manual"))
    train_and_validate(cluster, tmp_path, champion_uri)
    waiting = last_run(cluster, "AwaitingApproval")
    assert "promoted" not in waiting["status"]

    env = {"KUBECONFIG": str(tmp_path / "kubeconfig")}
    result = CliRunner().invoke(kubectl_modelship, ["approve", "rtj/retrain", "-n", NS], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("retrainjob/retrain promote the validated candidate")
    promoted = last_run(cluster, "Promoted")["status"]["promoted"]
    assert promoted["version"] == "2"


def drift_report(checked_at: str) -> dict[str, Any]:
    """status.drift as the deployment's drift monitoring writes it (set by hand here)."""
    return {
        "drifted": True,
        "checkedAt": checked_at,
        "source": "batch",
        "consecutive": 2,
        "since": "2026-01-02T00:00:00Z",
        "features": [{"name": "alcohol", "psi": 0.42, "drifted": True}],
        "message": "1 of 13 features drifted",
    }


def test_drift_starts_a_run_and_a_second_report_within_the_cooldown_does_not(
    cluster: EmulatedCluster, tmp_path: Path, data: Path
) -> None:
    """With no periodic resync, the deployment's new status.drift alone wakes the RetrainJob."""
    cluster.operator.stop()
    cluster.operator.extra_args = ["--resync-interval=3600"]
    cluster.operator.start()
    create(cluster, model_deployment_body("wine", NS, serving={"image": "serving:1"}))
    body = retraining(tmp_path, data, "good", "Manual")
    body["spec"] |= {
        "schedule": "0 3 * * 0",  # a weekly schedule that does not come during the test
        "triggers": {"drift": {"windows": 2, "minInterval": "1h"}},
    }
    create(cluster, body)
    wait_for("the CronJob", lambda: get(cluster, "batch/v1", "CronJob", NS, "retrain"))

    def drift_check(checked_at: str) -> Obj:
        def probe() -> Obj | None:
            found = get(cluster, MD_API, "RetrainJob", NS, "retrain") or {}
            check = (found.get("status") or {}).get("driftCheck") or {}
            return found["status"] if check.get("checkedAt") == checked_at else None

        return wait_for(f"the drift check at {checked_at} seen", probe)

    patch(cluster, MD_API, "ModelDeployment", NS, "wine",
          {"status": {"drift": drift_report("2026-01-02T10:00:00Z")}}, True)  # fmt: skip
    status = drift_check("2026-01-02T10:00:00Z")
    (run,) = wait_for("the drift-triggered run", lambda: drift_runs(cluster, NS))
    assert status["lastTrigger"]["run"] == run["metadata"]["name"]
    env = {
        e["name"]: e.get("value") for e in run["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["MODELSHIP_TRIGGER"] == "drift"
    summary = json.loads(env["MODELSHIP_DRIFT_SUMMARY"])
    assert summary["features"] == [{"name": "alcohol", "psi": 0.42}]
    finish(cluster, run, "")  # the run ends: none in flight, only the cooldown holds the next

    patch(cluster, MD_API, "ModelDeployment", NS, "wine",
          {"status": {"drift": drift_report("2026-01-02T11:00:00Z")}}, True)  # fmt: skip
    second = drift_check("2026-01-02T11:00:00Z")["driftCheck"]
    assert second["started"] is False
    assert second["message"].startswith("Cooling down until")
    assert [r["metadata"]["name"] for r in drift_runs(cluster, NS)] == [run["metadata"]["name"]]


def test_a_follower_canary_rolling_back_the_promoted_version_is_reported(
    cluster: EmulatedCluster, tmp_path: Path, data: Path
) -> None:
    champion_uri = champion(tmp_path, data, "bad")
    create(cluster, model_deployment_body("wine", NS, serving={"image": "serving:1"}))
    create(cluster, retraining(tmp_path, data, "good", "Automatic"))
    # What this RetrainJob promoted before: the champion, served by the canary follower.
    earlier = {"version": "1", "uri": champion_uri, "metrics": {}}
    patch(cluster, MD_API, "RetrainJob", NS, "retrain", {"status": {"promoted": earlier}}, True)
    follower = model_following_body("wine-next", NS, "retrain")
    steps = [{"weight": 20, "pause": "1h"}]
    follower["spec"]["rollout"] = {"strategy": "Canary", "canary": {"steps": steps}}
    create(cluster, follower)
    (stable,) = wait_for(
        "the follower's first revision", lambda: deployments(cluster, NS, "wine-next")
    )
    cluster.make_available(stable)
    md_with(cluster, NS, "wine-next", "Ready", "True", "Serving")

    train_and_validate(cluster, tmp_path, champion_uri)
    assert last_run(cluster, "Promoted")["status"]["promoted"]["version"] == "2"
    canary = new_revision(cluster, NS, "wine-next", stable["metadata"]["name"])
    cluster.make_available(canary)
    env = {"KUBECONFIG": str(tmp_path / "kubeconfig")}
    result = CliRunner().invoke(kubectl_modelship, ["abort", "mdep/wine-next", "-n", NS], env=env)
    assert result.exit_code == 0, result.output

    status = last_run(cluster, "RolledBack")["status"]
    assert status["lastRun"]["message"].startswith(
        "ModelDeployment wine-next rolled back version 2"
    )
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "RolledBack")
