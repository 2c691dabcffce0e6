"""Batch scoring CronJobs, one per `spec.batch` entry, over the stable revision's model."""

from __future__ import annotations

from typing import Any

from modelship.api.model_deployment import BatchJob, ModelDeployment
from modelship.api.retrain_job import TERMINATION_MESSAGE_PATH
from modelship.builders import defaults, labels
from modelship.builders.claims import claim_and_path
from modelship.builders.names import MAX_CRONJOB_NAME_LENGTH, child_name
from modelship.builders.owner import child_meta
from modelship.builders.pod import (
    REPORT,
    fetched_model_job_pod,
    model_mounts,
    modelship_container,
    resources,
    scheduling,
)
from modelship.builders.revision import Revision
from modelship.core import names
from modelship.core.names import SCORE_CONTAINER

# The Job's name, the same for every pod retry of one scheduled run: `score` fills
# {run} and {date} in the table uris from it.
RUN_ENV: dict[str, Any] = {
    "name": "MODELSHIP_BATCH_RUN",
    "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['job-name']"}},
}


def batch_job_name(md: ModelDeployment, job: BatchJob) -> str:
    return child_name(md.metadata.name, job.name, max_length=MAX_CRONJOB_NAME_LENGTH)


def _table_volumes(job: BatchJob) -> tuple[str, str, list[dict[str, Any]], list[dict[str, Any]]]:
    """The input and output as `score` sees them, with the volumes and mounts pvc:// needs.

    A claim is mounted at a fixed path and the uri becomes a path under it: the
    input's claim read-only, the output's read-write (one mount when they share a
    claim). The output's partial results live beside it, on the claim, so a retried
    pod resumes from them.
    """
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    output_uri, input_uri = job.output.uri, job.input.uri
    output = claim_and_path(output_uri)
    if output is not None:
        claim, path = output
        volumes.append(
            {"name": defaults.BATCH_OUTPUT_VOLUME, "persistentVolumeClaim": {"claimName": claim}}
        )
        mounts.append(
            {"name": defaults.BATCH_OUTPUT_VOLUME, "mountPath": defaults.BATCH_OUTPUT_PATH}
        )
        output_uri = f"{defaults.BATCH_OUTPUT_PATH}/{path}"
    source = claim_and_path(input_uri)
    if source is not None:
        claim, path = source
        if output is not None and output[0] == claim:
            input_uri = f"{defaults.BATCH_OUTPUT_PATH}/{path}"
        else:
            volumes.append(
                {
                    "name": defaults.BATCH_INPUT_VOLUME,
                    "persistentVolumeClaim": {"claimName": claim, "readOnly": True},
                }
            )
            mounts.append(
                {
                    "name": defaults.BATCH_INPUT_VOLUME,
                    "mountPath": defaults.BATCH_INPUT_PATH,
                    "readOnly": True,
                }
            )
            input_uri = f"{defaults.BATCH_INPUT_PATH}/{path}"
    return input_uri, output_uri, volumes, mounts


def _completions(job: BatchJob) -> dict[str, Any]:
    """How the Job completes: one pod, retried; or an Indexed Job of ``parallelism`` pods
    (one per shard, all at once), each index retried alone (backoffLimitPerIndex, on by
    default from Kubernetes 1.29, the operator's oldest), the others going on meanwhile."""
    if job.parallelism == 1:
        return {"backoffLimit": defaults.BATCH_BACKOFF_LIMIT}
    return {
        "completionMode": "Indexed",
        "completions": job.parallelism,
        "parallelism": job.parallelism,
        "backoffLimitPerIndex": defaults.BATCH_BACKOFF_LIMIT,
    }


def build_batch_cron_job(
    md: ModelDeployment, job: BatchJob, stable: Revision, fetch_image: str | None = None
) -> dict[str, Any]:
    """`<deployment>-<job>`: fetch the model (with `fetch_image`, or the serving image when
    none is given), then `modelship score` the input table."""
    name = md.metadata.name
    job_labels = labels.deployment_labels(name, names.BATCH, stable) | {names.BATCH_JOB: job.name}
    annotations = labels.revision_annotations(stable)
    model = stable.model
    input_uri, output_uri, table_volumes, table_mounts = _table_volumes(job)
    args = [
        "score",
        "--model-repo",
        defaults.MODEL_REPOSITORY_PATH,
        "--model",
        model.name,
        "--input",
        input_uri,
        "--output",
        output_uri,
        "--batch-size",
        str(job.batch_size),
        "--concurrency",
        str(job.concurrency),
        # The run's drift, small and without data, where the operator reads it from the
        # pod's status (no storage credentials needed): the termination message.
        "--drift-summary",
        TERMINATION_MESSAGE_PATH,
    ]
    drift = md.spec.monitoring.drift if md.spec.monitoring is not None else None
    if drift is not None:  # the report beside the output judges as the status does
        args += ["--psi-threshold", str(drift.threshold)]
    if job.input.format is not None:
        args += ["--input-format", job.input.format.value]
    if job.output.format is not None:
        args += ["--output-format", job.output.format.value]
    if job.parallelism > 1:  # each pod's shard is its JOB_COMPLETION_INDEX
        args += ["--shards", str(job.parallelism)]
    gpu = md.spec.serving.gpu if job.gpu else None
    score = modelship_container(
        SCORE_CONTAINER,
        md.spec.serving.image,
        args,
        ending=REPORT,
        env=(dict(RUN_ENV),),
        # The same credentials read the input and write the predictions.
        credentials_secret=model.credentials_secret,
        limits=resources(job.resources, gpu),
        mounts=model_mounts(*table_mounts),
    )
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
                    **_completions(job),
                    "activeDeadlineSeconds": job.active_deadline_seconds,
                    "template": {
                        "metadata": {"labels": dict(job_labels), "annotations": dict(annotations)},
                        "spec": fetched_model_job_pod(
                            md,
                            model,
                            fetch_image,
                            score,
                            table_volumes,
                            # The serving GPU's node selector and taint toleration; not its
                            # affinity, which spreads serving pods.
                            **(
                                scheduling(
                                    gpu, md.spec.serving.node_selector, md.spec.serving.tolerations
                                )
                                if gpu is not None
                                else {}
                            ),
                        ),
                    },
                },
            },
        },
    }
