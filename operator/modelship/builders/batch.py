"""Batch scoring CronJobs, one per `spec.batch` entry, over the stable revision's model."""

from __future__ import annotations

from typing import Any

from modelship.api.model_deployment import BatchJob, ModelDeployment
from modelship.builders import defaults, labels
from modelship.builders.names import MAX_CRONJOB_NAME_LENGTH, child_name
from modelship.builders.owner import child_meta
from modelship.builders.pod import (
    HOME_ENV,
    READ_ONLY_MODEL_MOUNT,
    TMP_MOUNT,
    fetch_container,
    model_volumes,
    resources,
)
from modelship.builders.pod_security import container_security_context, pod_security_context
from modelship.builders.revision import Revision


def batch_job_name(md: ModelDeployment, job: BatchJob) -> str:
    return child_name(md.metadata.name, job.name, max_length=MAX_CRONJOB_NAME_LENGTH)


def build_batch_cron_job(md: ModelDeployment, job: BatchJob, stable: Revision) -> dict[str, Any]:
    """`<deployment>-<job>`: fetch the model, then `modelship score` the input table."""
    name = md.metadata.name
    job_labels = labels.deployment_labels(name, labels.BATCH, stable) | {labels.BATCH_JOB: job.name}
    annotations = labels.revision_annotations(stable)
    model = stable.model
    score: dict[str, Any] = {
        "name": "score",
        "image": md.spec.serving.image,
        "command": ["modelship"],
        "args": [
            "score",
            "--model-repo",
            defaults.MODEL_REPOSITORY_PATH,
            "--model",
            model.name,
            "--input",
            job.input.uri,
            "--output",
            job.output.uri,
            "--batch-size",
            str(job.batch_size),
            "--concurrency",
            str(job.concurrency),
        ],
        "env": [dict(HOME_ENV)],
    }
    if job.input.format is not None:
        score["args"] += ["--input-format", job.input.format.value]
    if model.credentials_secret is not None:
        # The same credentials read the input and write the predictions.
        score["envFrom"] = [{"secretRef": {"name": model.credentials_secret}}]
    limits = resources(job.resources, None)
    if limits:
        score["resources"] = limits
    score["volumeMounts"] = [dict(READ_ONLY_MODEL_MOUNT), dict(TMP_MOUNT)]
    score["securityContext"] = container_security_context()
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": child_meta(md, batch_job_name(md, job), job_labels, annotations),
        "spec": {
            "schedule": job.schedule,
            "suspend": job.suspend,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": defaults.BATCH_STARTING_DEADLINE_SECONDS,
            "successfulJobsHistoryLimit": defaults.JOB_HISTORY_LIMIT,
            "failedJobsHistoryLimit": defaults.JOB_HISTORY_LIMIT,
            "jobTemplate": {
                "metadata": {"labels": dict(job_labels)},
                "spec": {
                    "backoffLimit": defaults.BATCH_BACKOFF_LIMIT,
                    "activeDeadlineSeconds": job.active_deadline_seconds,
                    "template": {
                        "metadata": {"labels": dict(job_labels), "annotations": dict(annotations)},
                        "spec": {
                            "restartPolicy": "Never",
                            "automountServiceAccountToken": False,
                            "enableServiceLinks": False,
                            "securityContext": pod_security_context(),
                            "initContainers": [fetch_container(md.spec.serving.image, model)],
                            "containers": [score],
                            "volumes": model_volumes(model),
                        },
                    },
                },
            },
        },
    }
