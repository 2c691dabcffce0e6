"""The validation Job of a trained candidate, compared whole.

Proves: `modelship evaluate` in the target deployment's serving image, scoring the
candidate against the champion (or alone when there is none) on the holdout table; the
deployment's credentials Secret by reference only; the termination message the operator
reads the scores from; restricted pod security; labels naming the run it validates; and
that Kubernetes accepts it (strict schema of 1.29 and 1.37).
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
from modelship.builders.validation import build_validation_job, validation_job_name
from support.custom_resources import controller_reference
from support.restricted_pods import JOB_POD, RESTRICTED_CONTAINER

VALIDATION = {"metric": "f1", "data": "s3://data/fraud/holdout.parquet", "label": "is_fraud"}
LABELS = {
    "app.kubernetes.io/name": "trainer",
    "app.kubernetes.io/instance": "fraud-retrain",
    "app.kubernetes.io/component": "validation",
    "app.kubernetes.io/part-of": "fraud",
    "app.kubernetes.io/managed-by": "modelship",
    "modelship.dev/retrain-job": "fraud-retrain",
    "modelship.dev/deployment": "fraud",
    "modelship.dev/validates": "fraud-retrain-run",
}


def expected(args: list[str], credentials: bool) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "evaluate",
        "image": "ghcr.io/modelship/serving:1",
        "command": ["modelship"],
        "args": args,
        "env": [{"name": "HOME", "value": "/tmp"}],
    }
    if credentials:
        container["envFrom"] = [{"secretRef": {"name": "s3-creds"}}]
    container |= {
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        "securityContext": RESTRICTED_CONTAINER,
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "fraud-retrain-run-validate",
            "namespace": "ml",
            "labels": LABELS,
            "ownerReferences": [controller_reference("fraud-retrain", kind="RetrainJob")],
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": 21600,
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {
                    **JOB_POD,
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }


CANDIDATE = "s3://models/fraud/fraud-retrain-run"
CHAMPION = "s3://models/fraud/3"
HOLDOUT = ["--data", "s3://data/fraud/holdout.parquet", "--label", "is_fraud", "--metrics", "f1"]


@pytest.mark.parametrize(
    ("champion", "credentials", "args"),
    [
        (CHAMPION, True, ["evaluate", "--candidate", CANDIDATE, "--champion", CHAMPION, *HOLDOUT]),
        (None, False, ["evaluate", "--candidate", CANDIDATE, *HOLDOUT]),
    ],
    ids=["against-the-champion", "first-model-no-credentials"],
)
def test_the_validation_job_whole(
    champion: str | None,
    credentials: bool,
    args: list[str],
    make_retrain_job: Any,
    make_deployment: Any,
    check_restricted: Any,
) -> None:
    rtj = make_retrain_job({"validation": VALIDATION})
    model = {"credentialsSecret": "s3-creds"} if credentials else {}
    md = make_deployment({"serving": {"image": "ghcr.io/modelship/serving:1"}, "model": model})
    job = build_validation_job(rtj, md, "fraud-retrain-run", CANDIDATE, champion)
    assert job == expected(args, credentials)
    assert check_restricted(job["spec"]["template"]["spec"]) == []
    for version in ("1.29", "1.37"):
        kubernetes_validate.validate(job, version, strict=True)


def test_a_long_run_name_still_gives_a_dns_label() -> None:
    name = validation_job_name("a" * 60)
    assert len(name) <= 63
    assert name != validation_job_name("a" * 61)


def test_pvc_models_and_holdout_are_read_from_their_claims_mounted_read_only(
    make_retrain_job: Any, make_deployment: Any, check_restricted: Any
) -> None:
    """Candidate and champion share one claim (one volume), the holdout's claim has a dot
    in its name (the volume's name does not); every uri becomes file:// under its mount,
    and the container gets the resources asked for."""
    resources = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}
    validation = VALIDATION | {"data": "pvc://data.lake/fraud/holdout.parquet"}
    rtj = make_retrain_job({"validation": validation | {"resources": resources}})
    md = make_deployment({"serving": {"image": "ghcr.io/modelship/serving:1"}})
    job = build_validation_job(
        rtj, md, "fraud-retrain-run", "pvc://models/fraud/run", "pvc://models/fraud/3"
    )
    args = ["evaluate", "--candidate", "file:///mnt/claims/models/fraud/run"]
    args += ["--champion", "file:///mnt/claims/models/fraud/3"]
    args += ["--data", "file:///mnt/claims/data.lake/fraud/holdout.parquet"]
    args += ["--label", "is_fraud", "--metrics", "f1"]
    want = expected(args, credentials=False)
    container = want["spec"]["template"]["spec"]["containers"][0]
    container["resources"] = resources
    container["volumeMounts"] += [
        {"name": "claim-8edcc26c0f", "mountPath": "/mnt/claims/models", "readOnly": True},
        {"name": "claim-6e96233e2f", "mountPath": "/mnt/claims/data.lake", "readOnly": True},
    ]
    want["spec"]["template"]["spec"]["volumes"] += [
        {
            "name": "claim-8edcc26c0f",
            "persistentVolumeClaim": {"claimName": "models", "readOnly": True},
        },
        {
            "name": "claim-6e96233e2f",
            "persistentVolumeClaim": {"claimName": "data.lake", "readOnly": True},
        },
    ]
    assert job == want
    assert check_restricted(job["spec"]["template"]["spec"]) == []
    for version in ("1.29", "1.37"):
        kubernetes_validate.validate(job, version, strict=True)
