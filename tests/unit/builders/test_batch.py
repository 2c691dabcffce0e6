"""Batch scoring CronJobs, compared whole: one per spec.batch entry, on the stable revision's model.

Proves: the schedule and deadlines, concurrencyPolicy Forbid, history limits,
the fetch init container and `modelship score` with the job's settings, the
credentials Secret by reference, restricted security, labels naming the job
and the revision, and names kept within the CronJob limit of 52 characters.
"""

from __future__ import annotations

from typing import Any

from modelship.api.model_deployment import Lineage, ModelFormat
from modelship.builders import ResolvedModel, build_model_deployment_children, steady_plan

UID = "0b6f2a39-5c1e-4f7e-9a1d-2f3c4b5a6d7e"
REV = "fraud-0dfcab3e92"
SHA = "ab" * 32
SECURE = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
IMAGE = "ghcr.io/modelship/tritonserver:24.10-modelship-0.1.0"
LABELS = {
    "app.kubernetes.io/name": "triton",
    "app.kubernetes.io/instance": "fraud",
    "app.kubernetes.io/component": "batch",
    "app.kubernetes.io/managed-by": "modelship",
    "modelship.dev/deployment": "fraud",
    "modelship.dev/revision": REV,
    "modelship.dev/model-version": "3",
    "modelship.dev/batch-job": "nightly",
}
ANNOTATIONS = {
    "modelship.dev/model-uri": "s3://models/fraud/3",
    "modelship.dev/model-sha256": SHA,
    "modelship.dev/lineage": '{"codeRef": "8d3f2a1", "parameters": {}}',
}
MODEL_MOUNT = {"name": "model-repository", "mountPath": "/models"}
TMP_MOUNT = {"name": "tmp", "mountPath": "/tmp"}
SECRET = [{"secretRef": {"name": "store"}}]


def test_batch_cron_job(make_deployment: Any) -> None:
    md = make_deployment(
        {
            "batch": [
                {
                    "name": "nightly",
                    "schedule": "0 2 * * *",
                    "input": {"uri": "s3://data/in/", "format": "parquet"},
                    "output": {"uri": "s3://data/out/"},
                    "batchSize": 1024,
                    "concurrency": 4,
                    "suspend": True,
                    "activeDeadlineSeconds": 3600,
                    "resources": {"requests": {"cpu": "2"}},
                }
            ]
        }
    )
    model = ResolvedModel(
        name="fraud",
        version="3",
        uri="s3://models/fraud/3",
        format=ModelFormat.ONNX,
        sha256=SHA,
        credentials_secret="store",
        lineage=Lineage(code_ref="8d3f2a1"),
    )
    children = build_model_deployment_children(md, steady_plan(md, model))
    assert [c for c in children if c["kind"] == "CronJob"] == [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {
                "name": "fraud-nightly",
                "namespace": "ml",
                "labels": LABELS,
                "annotations": ANNOTATIONS,
                "ownerReferences": [
                    {
                        "apiVersion": "modelship.dev/v1alpha1",
                        "kind": "ModelDeployment",
                        "name": "fraud",
                        "uid": UID,
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {
                "schedule": "0 2 * * *",
                "suspend": True,
                "concurrencyPolicy": "Forbid",
                "startingDeadlineSeconds": 600,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {
                    "metadata": {"labels": LABELS},
                    "spec": {
                        "backoffLimit": 2,
                        "activeDeadlineSeconds": 3600,
                        "template": {
                            "metadata": {"labels": LABELS, "annotations": ANNOTATIONS},
                            "spec": {
                                "restartPolicy": "Never",
                                "automountServiceAccountToken": False,
                                "enableServiceLinks": False,
                                "securityContext": {
                                    "runAsNonRoot": True,
                                    "runAsUser": 1000,
                                    "runAsGroup": 1000,
                                    "fsGroup": 1000,
                                    "seccompProfile": {"type": "RuntimeDefault"},
                                },
                                "initContainers": [
                                    {
                                        "name": "fetch",
                                        "image": IMAGE,
                                        "command": ["modelship"],
                                        "args": [
                                            "fetch",
                                            "--uri",
                                            "s3://models/fraud/3",
                                            "--dest",
                                            "/models",
                                            "--sha256",
                                            SHA,
                                        ],
                                        "env": [{"name": "HOME", "value": "/tmp"}],
                                        "envFrom": SECRET,
                                        "volumeMounts": [MODEL_MOUNT, TMP_MOUNT],
                                        "securityContext": SECURE,
                                    }
                                ],
                                "containers": [
                                    {
                                        "name": "score",
                                        "image": IMAGE,
                                        "command": ["modelship"],
                                        "args": [
                                            "score",
                                            "--model-repo",
                                            "/models",
                                            "--model",
                                            "fraud",
                                            "--input",
                                            "s3://data/in/",
                                            "--output",
                                            "s3://data/out/",
                                            "--batch-size",
                                            "1024",
                                            "--concurrency",
                                            "4",
                                            "--input-format",
                                            "parquet",
                                        ],
                                        "env": [{"name": "HOME", "value": "/tmp"}],
                                        "envFrom": SECRET,
                                        "resources": {"requests": {"cpu": "2"}},
                                        "volumeMounts": [
                                            {**MODEL_MOUNT, "readOnly": True},
                                            TMP_MOUNT,
                                        ],
                                        "securityContext": SECURE,
                                    }
                                ],
                                "volumes": [
                                    {"name": "model-repository", "emptyDir": {}},
                                    {"name": "tmp", "emptyDir": {}},
                                ],
                            },
                        },
                    },
                },
            },
        }
    ]


def test_long_names_stay_within_the_cronjob_limit(make_deployment: Any) -> None:
    name = "a-rather-long-model-deployment-name-for-fraud"
    job = {"schedule": "@daily", "input": {"uri": "s3://d/in"}, "output": {"uri": "s3://d/o"}}
    md = make_deployment({"batch": [{"name": "nightly-" + "x" * 30, **job}]}, name=name)
    model = ResolvedModel(name="fraud", version="3", uri="s3://m/3", format=ModelFormat.ONNX)
    children = build_model_deployment_children(md, steady_plan(md, model))
    names = [c["metadata"]["name"] for c in children if c["kind"] == "CronJob"]
    assert names == ["a-rather-long-model-deployment-name-for-fraud-f6fa6"]
    assert len(names[0]) <= 52
