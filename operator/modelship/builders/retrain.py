"""The trainer of a RetrainJob: a CronJob when it has a schedule, else a one-off Job.

The trainer learns where to read and write from MODELSHIP_* variables and
reports its result as JSON in its termination message.
"""

from __future__ import annotations

from typing import Any

from modelship.api.retrain_job import RetrainJob
from modelship.builders import defaults, labels
from modelship.builders.claims import MountedUris, mount_claims
from modelship.builders.names import MAX_CRONJOB_NAME_LENGTH, child_name
from modelship.builders.owner import child_meta
from modelship.builders.pod import REPORT, TMP_MOUNT, resources, scheduling
from modelship.builders.pod_security import container_security_context, pod_security_context
from modelship.core.names import TRAINER_CONTAINER, TRIGGER

# Pods of a Job carry its name in this label; the trainer reads it as its run name.
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
# `{run}` in the output uri becomes a reference Kubernetes expands in the container.
RUN_PLACEHOLDER = "{run}"
RUN_ENV = "MODELSHIP_RUN"
# Why a run started (schedule, manual, drift), and for drift the check's summary.
TRIGGER_ENV = "MODELSHIP_TRIGGER"
DRIFT_SUMMARY_ENV = "MODELSHIP_DRIFT_SUMMARY"
SCHEDULE, MANUAL, DRIFT = "schedule", "manual", "drift"


def run_job_name(rtj: RetrainJob, run: str = "run") -> str:
    return child_name(rtj.metadata.name, run, max_length=MAX_CRONJOB_NAME_LENGTH)


def build_retrain_cron_job(rtj: RetrainJob) -> dict[str, Any]:
    """`<retrainjob>`: a run on every tick of `spec.schedule`."""
    spec = rtj.spec
    job_labels = labels.retrain_labels(rtj.metadata.name, spec.model_deployment) | {
        TRIGGER: SCHEDULE
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": child_meta(
            rtj, child_name(rtj.metadata.name, max_length=MAX_CRONJOB_NAME_LENGTH), job_labels
        ),
        "spec": {
            "schedule": spec.schedule,
            "suspend": spec.suspend,
            "concurrencyPolicy": spec.concurrency_policy.value,
            "startingDeadlineSeconds": defaults.BATCH_STARTING_DEADLINE_SECONDS,
            "successfulJobsHistoryLimit": spec.history_limit,
            "failedJobsHistoryLimit": spec.history_limit,
            "jobTemplate": {
                "metadata": {"labels": dict(job_labels)},
                "spec": _job_spec(rtj, job_labels, _trigger_env(SCHEDULE)),
            },
        },
    }


def build_retrain_run_job(
    rtj: RetrainJob, run: str = "run", trigger: str = MANUAL, drift_summary: str | None = None
) -> dict[str, Any]:
    """`<retrainjob>-<run>`: one training run (run-once, or started by a trigger)."""
    job_labels = labels.retrain_labels(rtj.metadata.name, rtj.spec.model_deployment) | {
        TRIGGER: trigger
    }
    env = _trigger_env(trigger)
    if drift_summary is not None:
        env.append({"name": DRIFT_SUMMARY_ENV, "value": drift_summary})
    spec = _job_spec(rtj, job_labels, env)
    if rtj.spec.suspend:
        spec = {"suspend": True, **spec}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": child_meta(rtj, run_job_name(rtj, run), job_labels),
        "spec": spec,
    }


def _trigger_env(trigger: str) -> list[dict[str, Any]]:
    return [{"name": TRIGGER_ENV, "value": trigger}]


def _job_spec(
    rtj: RetrainJob, job_labels: dict[str, str], trigger_env: list[dict[str, Any]]
) -> dict[str, Any]:
    spec = rtj.spec
    template = spec.template
    pod: dict[str, Any] = {"restartPolicy": "Never"}
    if template.service_account_name is not None:
        pod["serviceAccountName"] = template.service_account_name
    else:
        pod["automountServiceAccountToken"] = False
    pod |= {
        "enableServiceLinks": False,
        "securityContext": pod_security_context(),
        "containers": [_trainer_container(rtj, trigger_env)],
        "volumes": [{"name": defaults.TMP_VOLUME, "emptyDir": {}}, *_training_data(rtj).volumes],
        **scheduling(template.gpu, template.node_selector, template.tolerations),
    }
    return {
        "backoffLimit": spec.backoff_limit,
        "activeDeadlineSeconds": spec.active_deadline_seconds,
        "template": {"metadata": {"labels": dict(job_labels)}, "spec": pod},
    }


def _trainer_container(rtj: RetrainJob, trigger_env: list[dict[str, Any]]) -> dict[str, Any]:
    spec = rtj.spec
    template = spec.template
    env: list[dict[str, Any]] = [
        {
            "name": RUN_ENV,
            "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{JOB_NAME_LABEL}']"}},
        },
        {"name": "MODELSHIP_DATA_URI", "value": _training_data(rtj).uris[0]},
    ]
    if spec.data.version is not None:
        env.append({"name": "MODELSHIP_DATA_VERSION", "value": spec.data.version})
    env.append(
        {
            "name": "MODELSHIP_OUTPUT_URI",
            "value": spec.output.uri.replace(RUN_PLACEHOLDER, f"$({RUN_ENV})"),
        }
    )
    env += trigger_env
    env += [_env_var(var.to_wire()) for var in template.env]
    container: dict[str, Any] = {"name": TRAINER_CONTAINER, "image": template.image}
    if template.command:
        container["command"] = list(template.command)
    if template.args:
        container["args"] = list(template.args)
    container["env"] = env
    limits = resources(template.resources, template.gpu)
    if limits:
        container["resources"] = limits
    container |= {
        **REPORT,
        "volumeMounts": [dict(TMP_MOUNT), *_training_data(rtj).mounts],
        # Training code writes where it likes; only /tmp is guaranteed writable.
        "securityContext": container_security_context(read_only_root=False),
    }
    return container


def _training_data(rtj: RetrainJob) -> MountedUris:
    """The data uri as the trainer sees it: a pvc:// claim is mounted read-only and the uri
    becomes file:// under it."""
    return mount_claims([rtj.spec.data.uri])


def _env_var(wire: dict[str, Any]) -> dict[str, Any]:
    """The API's EnvVar as a Kubernetes one: secretKeyRef moves under valueFrom."""
    if "secretKeyRef" in wire:
        return {"name": wire["name"], "valueFrom": {"secretKeyRef": wire["secretKeyRef"]}}
    return wire
