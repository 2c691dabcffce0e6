"""The RetrainJob's trainer, compared whole: a CronJob when scheduled, else a one-off Job.

Proves: the MODELSHIP_* environment (the run name from the Job's label, the
output uri's {run} expanded by Kubernetes), credentials by secretKeyRef only,
the termination message the result is read from, GPU limits, node selection
and the GPU toleration, restricted security, labels and ownerReference.
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
from modelship.builders import build_retrain_job_children, build_retrain_run_job
from support.custom_resources import controller_reference
from support.restricted_pods import RESTRICTED_CONTAINER, RESTRICTED_POD

LABELS = {
    "app.kubernetes.io/name": "trainer",
    "app.kubernetes.io/instance": "fraud-retrain",
    "app.kubernetes.io/component": "trainer",
    "app.kubernetes.io/part-of": "fraud",
    "app.kubernetes.io/managed-by": "modelship",
    "modelship.dev/retrain-job": "fraud-retrain",
    "modelship.dev/deployment": "fraud",
}
MANUAL_LABELS = LABELS | {"modelship.dev/trigger": "manual"}
SCHEDULE_LABELS = LABELS | {"modelship.dev/trigger": "schedule"}
OWNER = [controller_reference("fraud-retrain", kind="RetrainJob")]
META = {"namespace": "ml", "labels": MANUAL_LABELS, "ownerReferences": OWNER}
RUN_ENV = {
    "name": "MODELSHIP_RUN",
    "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['batch.kubernetes.io/job-name']"}},
}
POD_SECURITY = RESTRICTED_POD
# The trainer is the user's image: it may write where it likes.
TRAINER_SECURITY = RESTRICTED_CONTAINER | {"readOnlyRootFilesystem": False}


def _job_spec(pod: dict[str, Any], container: dict[str, Any], **job: Any) -> dict[str, Any]:
    return {
        "backoffLimit": job.get("backoffLimit", 1),
        "activeDeadlineSeconds": job.get("activeDeadlineSeconds", 21600),
        "template": {
            "metadata": {"labels": job.get("labels", MANUAL_LABELS)},
            "spec": {
                "restartPolicy": "Never",
                **pod,
                "enableServiceLinks": False,
                "securityContext": POD_SECURITY,
                "containers": [
                    {
                        "name": "trainer",
                        **container,
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File",
                        "volumeMounts": [
                            {"name": "tmp", "mountPath": "/tmp"},
                            *job.get("mounts", []),
                        ],
                        "securityContext": TRAINER_SECURITY,
                    }
                ],
                "volumes": [{"name": "tmp", "emptyDir": {}}, *job.get("volumes", [])],
                **job.get("placement", {}),
            },
        },
    }


MINIMAL_CONTAINER = {
    "image": "trainer:1",
    "env": [
        RUN_ENV,
        {"name": "MODELSHIP_DATA_URI", "value": "s3://data/fraud/"},
        {"name": "MODELSHIP_OUTPUT_URI", "value": "s3://models/fraud/$(MODELSHIP_RUN)"},
        {"name": "MODELSHIP_TRIGGER", "value": "manual"},
    ],
}

CASES = [
    pytest.param(
        {},
        [
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": "fraud-retrain-run", **META},
                "spec": _job_spec({"automountServiceAccountToken": False}, MINIMAL_CONTAINER),
            }
        ],
        id="run-once",
    ),
    pytest.param(
        {"suspend": True},
        [
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": "fraud-retrain-run", **META},
                "spec": {
                    "suspend": True,
                    **_job_spec({"automountServiceAccountToken": False}, MINIMAL_CONTAINER),
                },
            }
        ],
        id="run-once-suspended",
    ),
    pytest.param(
        {
            "schedule": "0 3 * * 1",
            "concurrencyPolicy": "Replace",
            "backoffLimit": 3,
            "activeDeadlineSeconds": 3600,
            "historyLimit": 5,
            "template": {
                "image": "trainer:2",
                "command": ["python", "-m", "train"],
                "args": ["--epochs", "3"],
                "serviceAccountName": "trainer",
                "env": [
                    {"name": "LOG_LEVEL", "value": "info"},
                    {"name": "TOKEN", "secretKeyRef": {"name": "store", "key": "token"}},
                ],
                "resources": {"requests": {"cpu": "4"}},
                "gpu": {"count": 1, "product": "NVIDIA-L4"},
                "nodeSelector": {"pool": "training"},
            },
            "data": {"uri": "s3://data/fraud/", "version": "v7"},
        },
        [
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "metadata": {
                    "name": "fraud-retrain",
                    "namespace": "ml",
                    "labels": SCHEDULE_LABELS,
                    "ownerReferences": OWNER,
                },
                "spec": {
                    "schedule": "0 3 * * 1",
                    "suspend": False,
                    "concurrencyPolicy": "Replace",
                    "startingDeadlineSeconds": 600,
                    "successfulJobsHistoryLimit": 5,
                    "failedJobsHistoryLimit": 5,
                    "jobTemplate": {
                        "metadata": {"labels": SCHEDULE_LABELS},
                        "spec": _job_spec(
                            {"serviceAccountName": "trainer"},
                            {
                                "image": "trainer:2",
                                "command": ["python", "-m", "train"],
                                "args": ["--epochs", "3"],
                                "env": [
                                    RUN_ENV,
                                    {"name": "MODELSHIP_DATA_URI", "value": "s3://data/fraud/"},
                                    {"name": "MODELSHIP_DATA_VERSION", "value": "v7"},
                                    {
                                        "name": "MODELSHIP_OUTPUT_URI",
                                        "value": "s3://models/fraud/$(MODELSHIP_RUN)",
                                    },
                                    {"name": "MODELSHIP_TRIGGER", "value": "schedule"},
                                    {"name": "LOG_LEVEL", "value": "info"},
                                    {
                                        "name": "TOKEN",
                                        "valueFrom": {
                                            "secretKeyRef": {"name": "store", "key": "token"}
                                        },
                                    },
                                ],
                                "resources": {
                                    "requests": {"cpu": "4"},
                                    "limits": {"nvidia.com/gpu": 1},
                                },
                            },
                            labels=SCHEDULE_LABELS,
                            backoffLimit=3,
                            activeDeadlineSeconds=3600,
                            placement={
                                "nodeSelector": {
                                    "pool": "training",
                                    "nvidia.com/gpu.product": "NVIDIA-L4",
                                },
                                "tolerations": [
                                    {
                                        "key": "nvidia.com/gpu",
                                        "operator": "Exists",
                                        "effect": "NoSchedule",
                                    }
                                ],
                            },
                        ),
                    },
                },
            }
        ],
        id="scheduled-gpu-with-secrets",
    ),
    pytest.param(
        {"data": {"uri": "pvc://training-data/fraud/"}},
        [
            {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": "fraud-retrain-run", **META},
                "spec": _job_spec(
                    {"automountServiceAccountToken": False},
                    {
                        **MINIMAL_CONTAINER,
                        "env": [
                            RUN_ENV,
                            # The claim is mounted; the trainer reads the file:// path.
                            {
                                "name": "MODELSHIP_DATA_URI",
                                "value": "file:///mnt/claims/training-data/fraud",
                            },
                            *MINIMAL_CONTAINER["env"][2:],
                        ],
                    },
                    mounts=[
                        {
                            "name": "claim-17fd282dec",
                            "mountPath": "/mnt/claims/training-data",
                            "readOnly": True,
                        }
                    ],
                    volumes=[
                        {
                            "name": "claim-17fd282dec",
                            "persistentVolumeClaim": {
                                "claimName": "training-data",
                                "readOnly": True,
                            },
                        }
                    ],
                ),
            }
        ],
        id="pvc-training-data-mounted-read-only",
    ),
]


@pytest.mark.parametrize(("spec", "expected"), CASES)
def test_retrain_job_children(
    spec: dict[str, Any], expected: list[dict[str, Any]], make_retrain_job: Any
) -> None:
    children = build_retrain_job_children(make_retrain_job(spec))
    assert children == expected
    for child in children:
        for version in ("1.29", "1.37"):
            kubernetes_validate.validate(child, version, strict=True)


def test_triggered_runs_get_their_own_job_names(make_retrain_job: Any) -> None:
    rtj = make_retrain_job({"schedule": "@weekly"})
    job = build_retrain_run_job(rtj, "drift-20241125")
    assert job["kind"] == "Job"
    assert job["metadata"]["name"] == "fraud-retrain-drift-20241125"
