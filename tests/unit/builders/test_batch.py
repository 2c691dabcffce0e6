"""Batch scoring CronJobs, compared whole: one per spec.batch entry, on the stable revision's model.

Proves: the schedule and deadlines, concurrencyPolicy Forbid, history limits,
the fetch init container and `modelship score` with the job's settings (and the Job's
name, from the downward API, to name the run in its uris), the
credentials Secret by reference, restricted security, labels naming the job
and the revision, and names kept within the CronJob limit of 52 characters. A pvc://
input or output is mounted (input read-only, output read-write, one mount for a shared
claim) and handed to `score` as a path under the mount, and the CronJob still validates.
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
from modelship.api.common import Lineage
from modelship.api.model_deployment import ModelFormat
from modelship.builders import ResolvedModel, build_model_deployment_children, steady_plan
from support.custom_resources import controller_reference
from support.model_pods import HOME, IMAGE, MODEL_READER_MOUNTS, MODEL_VOLUMES, fetch_init_container
from support.resolved_models import fraud_model
from support.restricted_pods import JOB_POD, RESTRICTED_CONTAINER

REV = "fraud-0dfcab3e92"
SHA = "ab" * 32
SECURE = RESTRICTED_CONTAINER
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
SECRET = [{"secretRef": {"name": "store"}}]


RUN_ENV = {
    "name": "MODELSHIP_BATCH_RUN",
    "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['job-name']"}},
}
NIGHTLY_ARGS = [
    "score",
    "--model-repo",
    "/models",
    "--model",
    "fraud",
    "--input",
    "s3://data/in/",
    "--output",
    "s3://data/out/{date}.parquet",
    "--batch-size",
    "1024",
    "--concurrency",
    "4",
    "--drift-summary",
    "/dev/termination-log",
    "--input-format",
    "parquet",
]
NIGHTLY: dict[str, Any] = {
    "apiVersion": "batch/v1",
    "kind": "CronJob",
    "metadata": {
        "name": "fraud-nightly",
        "namespace": "ml",
        "labels": LABELS,
        "annotations": ANNOTATIONS,
        "ownerReferences": [controller_reference()],
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
                        **JOB_POD,
                        "initContainers": [
                            fetch_init_container(
                                "s3://models/fraud/3", "--sha256", SHA, env_from=SECRET
                            )
                        ],
                        "containers": [
                            {
                                "name": "score",
                                "image": IMAGE,
                                "command": ["modelship"],
                                "args": NIGHTLY_ARGS,
                                "env": [HOME, RUN_ENV],
                                "terminationMessagePath": "/dev/termination-log",
                                "terminationMessagePolicy": "File",
                                "envFrom": SECRET,
                                "resources": {"requests": {"cpu": "2"}},
                                "volumeMounts": MODEL_READER_MOUNTS,
                                "securityContext": SECURE,
                            }
                        ],
                        "volumes": MODEL_VOLUMES,
                    },
                },
            },
        },
    },
}


MODEL = fraud_model(sha256=SHA, credentials_secret="store", lineage=Lineage(code_ref="8d3f2a1"))


def nightly(
    input_uri: str = "s3://data/in/",
    output_uri: str = "s3://data/out/{date}.parquet",
    **job: Any,
) -> dict[str, Any]:
    """The nightly batch job NIGHTLY is built from, its fields overridden by ``job``."""
    return {
        "name": "nightly",
        "schedule": "0 2 * * *",
        "input": {"uri": input_uri, "format": "parquet"},
        "output": {"uri": output_uri},
        "batchSize": 1024,
        "concurrency": 4,
        "suspend": True,
        "activeDeadlineSeconds": 3600,
        "resources": {"requests": {"cpu": "2"}},
        **job,
    }


def nightly_cron_jobs(make_deployment: Any, input_uri: str, output_uri: str) -> list[Any]:
    md = make_deployment({"batch": [nightly(input_uri, output_uri)]})
    children = build_model_deployment_children(md, steady_plan(md, MODEL))
    return [c for c in children if c["kind"] == "CronJob"]


def test_batch_cron_job(make_deployment: Any) -> None:
    assert nightly_cron_jobs(make_deployment, "s3://data/in/", "s3://data/out/{date}.parquet") == [
        NIGHTLY
    ]


POD = ("spec", "jobTemplate", "spec", "template", "spec")
SCORE = (*POD, "containers", 0)
INPUT_CLAIM = {
    "name": "batch-input",
    "persistentVolumeClaim": {"claimName": "exports", "readOnly": True},
}
INPUT_MOUNT = {"name": "batch-input", "mountPath": "/mnt/batch-input", "readOnly": True}
OUTPUT_CLAIM = {"name": "batch-output", "persistentVolumeClaim": {"claimName": "scores"}}
OUTPUT_MOUNT = {"name": "batch-output", "mountPath": "/mnt/batch-output"}
SHARED_CLAIM = {"name": "batch-output", "persistentVolumeClaim": {"claimName": "exports"}}
SHARED_MOUNT = OUTPUT_MOUNT


def test_drift_monitoring_sets_the_threshold_score_judges_by(make_deployment: Any) -> None:
    """The report beside the output and the status judge features by the same PSI threshold."""
    md = make_deployment(
        {
            "monitoring": {"drift": {"threshold": 0.3}},
            "batch": [
                {
                    "name": "nightly",
                    "schedule": "0 2 * * *",
                    "input": {"uri": "s3://data/in.parquet"},
                    "output": {"uri": "s3://data/{run}.parquet"},
                }
            ],
        }
    )
    children = build_model_deployment_children(md, steady_plan(md, MODEL))
    [cron_job] = [c for c in children if c["kind"] == "CronJob"]
    args = cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[-2:] == ["--psi-threshold", "0.3"]
    assert args[args.index("--drift-summary") + 1] == "/dev/termination-log"


@pytest.mark.parametrize(
    ("input_uri", "output_uri", "local_input", "local_output", "volumes", "mounts"),
    [
        (
            "pvc://exports/day/in.parquet",
            "s3://data/{date}/out.parquet",
            "/mnt/batch-input/day/in.parquet",
            "s3://data/{date}/out.parquet",
            [INPUT_CLAIM],
            [INPUT_MOUNT],
        ),
        (
            "s3://data/in.parquet",
            "pvc://scores/{date}/out.csv",
            "s3://data/in.parquet",
            "/mnt/batch-output/{date}/out.csv",
            [OUTPUT_CLAIM],
            [OUTPUT_MOUNT],
        ),
        (
            "pvc://exports/in.parquet",
            "pvc://scores/{run}.jsonl",
            "/mnt/batch-input/in.parquet",
            "/mnt/batch-output/{run}.jsonl",
            [OUTPUT_CLAIM, INPUT_CLAIM],
            [OUTPUT_MOUNT, INPUT_MOUNT],
        ),
        (  # one claim for both: mounted once, read-write
            "pvc://exports/in/day.parquet",
            "pvc://exports/out/{date}.parquet",
            "/mnt/batch-output/in/day.parquet",
            "/mnt/batch-output/out/{date}.parquet",
            [SHARED_CLAIM],
            [SHARED_MOUNT],
        ),
    ],
    ids=["pvc-input", "pvc-output", "two-claims", "one-claim"],
)
@pytest.mark.parametrize("version", ["1.29", "1.37"])
def test_pvc_tables_are_mounted_and_given_to_score_as_paths(
    make_deployment: Any,
    edit: Any,
    check_restricted: Any,
    input_uri: str,
    output_uri: str,
    local_input: str,
    local_output: str,
    volumes: list[dict[str, Any]],
    mounts: list[dict[str, Any]],
    version: str,
) -> None:
    args = list(NIGHTLY_ARGS)
    args[args.index("--input") + 1] = local_input
    args[args.index("--output") + 1] = local_output
    expected = edit(
        NIGHTLY,
        {
            (*SCORE, "args"): args,
            (*SCORE, "volumeMounts"): [*MODEL_READER_MOUNTS, *mounts],
            (*POD, "volumes"): MODEL_VOLUMES + volumes,
        },
    )
    [cron_job] = nightly_cron_jobs(make_deployment, input_uri, output_uri)
    assert cron_job == expected
    kubernetes_validate.validate(cron_job, version, strict=True)
    assert check_restricted(cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]) == []


def test_long_names_stay_within_the_cronjob_limit(make_deployment: Any) -> None:
    name = "a-rather-long-model-deployment-name-for-fraud"
    job = {
        "schedule": "@daily",
        "input": {"uri": "s3://d/in.csv"},
        "output": {"uri": "s3://d/{date}.csv"},
    }
    md = make_deployment({"batch": [{"name": "nightly-" + "x" * 30, **job}]}, name=name)
    model = ResolvedModel(name="fraud", version="3", uri="s3://m/3", format=ModelFormat.ONNX)
    children = build_model_deployment_children(md, steady_plan(md, model))
    names = [c["metadata"]["name"] for c in children if c["kind"] == "CronJob"]
    assert names == ["a-rather-long-model-deployment-name-for-fraud-f6fa6"]
    assert len(names[0]) <= 52


def test_the_operator_image_fetches_the_model(make_deployment: Any) -> None:
    """With MODELSHIP_FETCH_IMAGE every fetch init container runs the operator's image, so a
    serving pod's credentials reach no user image; Triton and configure keep the serving
    image. A batch job's score container still gets the credentials in the serving image
    (it reads and writes the tables): docs/threat-model.md lists that gap as open."""
    md = make_deployment(
        {
            "model": {"credentialsSecret": "store"},
            "batch": [
                {
                    "name": "nightly",
                    "schedule": "0 2 * * *",
                    "input": {"uri": "s3://data/in.parquet"},
                    "output": {"uri": "s3://data/out/{date}.parquet"},
                }
            ],
        }
    )
    operator_image = "ghcr.io/modelship/operator@sha256:" + "c" * 64
    children = build_model_deployment_children(md, steady_plan(md, MODEL), operator_image)
    pods = [
        c["spec"]["template"]["spec"] if c["kind"] == "Deployment" else c["spec"]["jobTemplate"]
        ["spec"]["template"]["spec"]
        for c in children
        if c["kind"] in ("Deployment", "CronJob")
    ]  # fmt: skip
    assert len(pods) == 2
    images = {
        (container["name"], container["image"], "envFrom" in container)
        for pod in pods
        for container in [*pod["initContainers"], *pod["containers"]]
    }
    assert images == {
        ("fetch", operator_image, True),
        ("configure", IMAGE, False),
        ("triton", IMAGE, False),
        ("score", IMAGE, True),
    }


def sharded_cron_job(make_deployment: Any, **job: Any) -> dict[str, Any]:
    serving = job.pop("serving", {})
    md = make_deployment({"serving": serving, "batch": [nightly(**job)]})
    children = build_model_deployment_children(md, steady_plan(md, MODEL))
    [cron_job] = [c for c in children if c["kind"] == "CronJob"]
    return cron_job


JOB = ("spec", "jobTemplate", "spec")


@pytest.mark.parametrize("version", ["1.29", "1.37"])
def test_parallelism_makes_an_indexed_job_whose_indexes_retry_alone(
    make_deployment: Any, edit: Any, version: str
) -> None:
    cron_job = sharded_cron_job(
        make_deployment, parallelism=4, output={"uri": "s3://data/out/{run}/", "format": "csv"}
    )
    args = list(NIGHTLY_ARGS)
    args[args.index("--output") + 1] = "s3://data/out/{run}/"
    expected = edit(
        NIGHTLY,
        {
            (*JOB, "backoffLimit"): None,  # per index instead
            (*JOB, "completionMode"): "Indexed",
            (*JOB, "completions"): 4,
            (*JOB, "parallelism"): 4,
            (*JOB, "backoffLimitPerIndex"): 2,
            (*SCORE, "args"): [*args, "--output-format", "csv", "--shards", "4"],
        },
    )
    assert cron_job == expected
    kubernetes_validate.validate(cron_job, version, strict=True)


GPU_TAINT = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


@pytest.mark.parametrize(
    ("gpu", "limits", "placement"),
    [
        (
            {"count": 1, "product": "NVIDIA-H100-80GB-HBM3"},
            {"nvidia.com/gpu": 1},
            {
                "nodeSelector": {"pool": "gpu", "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
                "tolerations": GPU_TAINT,
            },
        ),
        (
            {"count": 1, "migProfile": "1g.10gb"},
            {"nvidia.com/mig-1g.10gb": 1},
            {
                "nodeSelector": {"pool": "gpu"},
                "tolerations": GPU_TAINT,
            },
        ),
    ],
    ids=["whole-gpu", "mig-slice"],
)
def test_a_gpu_batch_job_requests_the_gpu_the_deployment_serves_on(
    make_deployment: Any,
    edit: Any,
    gpu: dict[str, Any],
    limits: dict[str, Any],
    placement: dict[str, Any],
) -> None:
    serving = {"gpu": gpu, "nodeSelector": {"pool": "gpu"}}
    cron_job = sharded_cron_job(make_deployment, gpu=True, serving=serving)
    pod = dict(NIGHTLY["spec"]["jobTemplate"]["spec"]["template"]["spec"]) | placement
    expected = edit(
        NIGHTLY,
        {
            POD: pod,
            (*SCORE, "resources"): {"requests": {"cpu": "2"}, "limits": limits},
        },
    )
    assert cron_job == expected
    kubernetes_validate.validate(cron_job, "1.29", strict=True)
    # Without gpu: true the same deployment's batch pods stay off the GPU.
    assert sharded_cron_job(make_deployment, serving=serving) == NIGHTLY
