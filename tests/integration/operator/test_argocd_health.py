"""The shipped Argo CD health checks on the statuses the real operator writes.

Each test drives the operator process through what a user goes through (a model comes up,
a new version rolls out or gets stuck, a spec is wrong, a retraining run ends) and runs
the Lua from charts/modelship/argocd on the live object, in Lua 5.1 with only the libraries
Argo CD opens for argocd-cm scripts, as Argo CD would to colour the Application.
"""

from __future__ import annotations

from typing import Any

from support.argocd_sandbox import Health, evaluate, health_check
from support.custom_resources import model_following_body
from support.harness import EmulatedCluster
from support.scenarios import (
    MD_API,
    condition,
    create,
    create_missing_secret,
    created_model_deployment,
    deployments,
    get,
    model_deployment,
    new_revision,
    patch,
    ready_model_deployment,
    retrain_job,
    version_with_missing_secret,
    wait_for,
)

NS = "ml"


def health_of(cluster: EmulatedCluster, kind: str, name: str) -> Health:
    obj = get(cluster, MD_API, kind, NS, name)
    assert obj is not None, f"{kind} {name} is gone"
    return evaluate(health_check(kind), obj, f"{kind}/health.lua")


def health_becomes(
    cluster: EmulatedCluster, kind: str, name: str, status: str, said: str = ""
) -> Health:
    """Wait until Argo CD would show ``status`` (with a message starting with ``said``) for
    the object; returns its health."""

    def probe() -> Health | None:
        found = health_of(cluster, kind, name)
        return found if found.status == status and found.message.startswith(said) else None

    return wait_for(f"{kind} {name} to be {status} {said!r} in Argo CD", probe)


def test_a_model_is_progressing_until_it_serves_then_healthy(cluster: EmulatedCluster) -> None:
    create(cluster, model_deployment("wine", NS))
    starting = health_becomes(cluster, "ModelDeployment", "wine", "Progressing")
    assert starting.message.startswith(("Waiting for the modelship operator", "WaitingFor"))
    deployment = wait_for("the revision Deployment", lambda: deployments(cluster, NS, "wine"))[0]
    revision = deployment["metadata"]["name"]
    waiting = health_becomes(cluster, "ModelDeployment", "wine", "Progressing", "WaitingFor")
    assert waiting.message == (
        f"WaitingForReplicas: 0 of 1 pods of revision {revision} (version 1) are ready."
    )

    cluster.make_available(deployment)
    healthy = health_becomes(cluster, "ModelDeployment", "wine", "Healthy")
    assert healthy.message == f"Revision {revision} serves model version 1 on 1 of 1 pods."


def test_a_new_version_is_progressing_while_it_rolls_out(cluster: EmulatedCluster) -> None:
    ready_model_deployment(cluster, NS, "wine")
    (old,) = deployments(cluster, NS, "wine")
    patch(cluster, MD_API, "ModelDeployment", NS, "wine", {"spec": {"model": {
        "version": "2", "uri": "s3://models/wine/2"}}})  # fmt: skip
    new = new_revision(cluster, NS, "wine", old["metadata"]["name"])
    rolling = health_becomes(cluster, "ModelDeployment", "wine", "Progressing", "RollingOut: ")
    assert rolling.message == (
        f"RollingOut: Revision {new['metadata']['name']} (version 2) is starting; "
        f"{old['metadata']['name']} (version 1) serves until it is available."
    )

    cluster.make_available(new)
    healthy = health_becomes(cluster, "ModelDeployment", "wine", "Healthy")
    assert healthy.message.startswith(f"Revision {new['metadata']['name']} serves model version 2")


def test_a_stuck_version_is_degraded_while_the_old_one_serves(cluster: EmulatedCluster) -> None:
    """Ready stays True (the old revision serves), yet the version in git will not come up:
    Argo CD must show Degraded with what to fix, and Healthy once it is fixed."""
    old, new = version_with_missing_secret(cluster, NS)
    old_name = old["metadata"]["name"]

    degraded = health_becomes(cluster, "ModelDeployment", "wine", "Degraded")
    ready = condition(get(cluster, MD_API, "ModelDeployment", NS, "wine"), "Ready")
    assert ready["status"] == "True", "the operator says the old revision still serves"
    assert degraded.message.startswith("SecretNotFound: ")
    assert f'Secret "missing-store" does not exist in namespace {NS}' in degraded.message
    assert degraded.message.endswith(f"Revision {old_name} (version 1) keeps serving.")

    create_missing_secret(cluster, NS)
    cluster.make_available(new)
    healthy = health_becomes(cluster, "ModelDeployment", "wine", "Healthy")
    assert healthy.message.startswith(f"Revision {new['metadata']['name']} serves")


def test_an_image_that_cannot_be_pulled_is_degraded(cluster: EmulatedCluster) -> None:
    deployment = created_model_deployment(cluster, NS, "wine")
    cluster.stick_pod(deployment, "triton", "ImagePullBackOff", "Back-off pulling image")
    degraded = health_becomes(cluster, "ModelDeployment", "wine", "Degraded")
    assert degraded.message.startswith("ImagePullFailed: ")
    assert "spec.serving.image" in degraded.message
    assert "keeps serving" not in degraded.message, "nothing serves"


def test_a_failed_model_fetch_is_degraded(cluster: EmulatedCluster) -> None:
    deployment = created_model_deployment(cluster, NS, "wine")
    cluster.stick_pod(deployment, "triton", "PodInitializing", "")
    pod = f"{deployment['metadata']['name']}-0"
    fetch = {
        "name": "fetch",
        "image": deployment["spec"]["template"]["spec"]["initContainers"][0]["image"],
        "imageID": "",
        "ready": False,
        "restartCount": 2,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1, "message": "NoSuchKey: s3://models/wine/1"}},
    }
    patch(cluster, "v1", "Pod", NS, pod, {"status": {"initContainerStatuses": [fetch]}}, True)
    degraded = health_becomes(cluster, "ModelDeployment", "wine", "Degraded")
    assert degraded.message.startswith("ModelFetchFailed: ")
    assert "NoSuchKey" in degraded.message


def test_an_invalid_spec_is_degraded_and_says_the_old_revision_serves(
    cluster: EmulatedCluster,
) -> None:
    ready_model_deployment(cluster, NS, "wine")
    (serving,) = deployments(cluster, NS, "wine")
    patch(cluster, MD_API, "ModelDeployment", NS, "wine", {"spec": {"autoscaling": {
        "minReplicas": 5, "maxReplicas": 2}}})  # fmt: skip
    degraded = health_becomes(cluster, "ModelDeployment", "wine", "Degraded")
    assert degraded.message.startswith(
        "InvalidSpec: Invalid spec: spec.autoscaling: minReplicas must not exceed "
        "maxReplicas (5 > 2)."
    )
    assert degraded.message.endswith(
        f"Revision {serving['metadata']['name']} (version 1) keeps serving."
    )


def test_a_model_from_an_unknown_retrain_job_is_degraded(cluster: EmulatedCluster) -> None:
    create(cluster, model_following_body("wine", NS, "retrain"))
    degraded = health_becomes(cluster, "ModelDeployment", "wine", "Degraded")
    assert degraded == Health("Degraded", 'ModelUnresolved: RetrainJob "retrain" is not known.')


def _finish(cluster: EmulatedCluster, job: str, status: dict[str, Any]) -> None:
    patch(cluster, "batch/v1", "Job", NS, job, {"status": status}, status=True)


def test_a_run_once_retrain_job_progresses_while_training_then_is_healthy(
    cluster: EmulatedCluster,
) -> None:
    create(cluster, retrain_job("retrain", NS))
    wait_for("the run Job", lambda: get(cluster, "batch/v1", "Job", NS, "retrain-run"))
    training = health_becomes(cluster, "RetrainJob", "retrain", "Progressing", "RunActive: ")
    assert training.message == "RunActive: Run retrain-run is training."
    _finish(cluster, "retrain-run", {"startTime": "2026-01-02T00:00:00Z", "succeeded": 1,
                                      "completionTime": "2026-01-02T00:09:00Z"})  # fmt: skip
    healthy = health_becomes(cluster, "RetrainJob", "retrain", "Healthy")
    assert healthy == Health("Healthy", "Run retrain-run succeeded.")


def test_a_failed_retrain_run_is_degraded_and_a_suspended_job_healthy(
    cluster: EmulatedCluster,
) -> None:
    create(cluster, retrain_job("retrain", NS))
    wait_for("the run Job", lambda: get(cluster, "batch/v1", "Job", NS, "retrain-run"))
    failed = {
        "type": "Failed",
        "status": "True",
        "reason": "BackoffLimitExceeded",
        "message": "Job has reached the specified backoff limit",
        "lastTransitionTime": "2026-01-02T00:10:00Z",
    }
    _finish(cluster, "retrain-run", {"startTime": "2026-01-02T00:00:00Z", "failed": 2,
                                      "conditions": [failed]})  # fmt: skip
    degraded = health_becomes(cluster, "RetrainJob", "retrain", "Degraded")
    assert degraded.message == (
        "RunFailed: Run retrain-run failed (BackoffLimitExceeded: Job has reached the specified "
        "backoff limit); see kubectl logs job/retrain-run."
    )

    create(cluster, retrain_job("paused", NS) | {"spec": {**retrain_job("paused", NS)["spec"],
                                                          "suspend": True}})  # fmt: skip
    suspended = health_becomes(cluster, "RetrainJob", "paused", "Healthy")
    assert suspended == Health("Healthy", "Suspended: no run starts.")
