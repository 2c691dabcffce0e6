"""The validation Job of a trained candidate: `modelship evaluate` in the serving image.

It scores the candidate and the champion on the same holdout table and writes both scores
as JSON to its termination message, where the operator reads them without storage
credentials. It reads the models and the table with the credentials the target
ModelDeployment already uses for its model (by Secret reference, never copied).
"""

from __future__ import annotations

from typing import Any

from modelship.api.model_deployment import ModelDeployment
from modelship.api.retrain_job import RetrainJob
from modelship.builders import defaults, labels
from modelship.builders.claims import mount_claims
from modelship.builders.names import child_name
from modelship.builders.owner import child_meta
from modelship.builders.pod import REPORT, TMP_MOUNT, modelship_container, resources
from modelship.builders.pod_security import job_pod_spec
from modelship.core.names import COMPONENT, EVALUATE_CONTAINER, VALIDATES, VALIDATION

# A scoring run that fails is not retried: its report would say the same.
VALIDATION_BACKOFF_LIMIT = 0


def validation_job_name(run: str) -> str:
    """`<run>-validate`, cut with a hash to a DNS label when the run's name is long."""
    return child_name(run, "validate")


def build_validation_job(
    rtj: RetrainJob,
    md: ModelDeployment,
    run: str,
    candidate_uri: str,
    champion_uri: str | None,
) -> dict[str, Any]:
    """`<run>-validate`: score `candidate_uri` (and `champion_uri`, when there is one)."""
    validation = rtj.spec.validation
    if validation.data is None or validation.label is None:
        raise ValueError("a validation Job needs validation.data and validation.label")
    job_labels = labels.retrain_labels(rtj.metadata.name, rtj.spec.model_deployment) | {
        COMPONENT: VALIDATION,
        VALIDATES: run,
    }
    # pvc:// models and holdouts are read from their claims, mounted read-only.
    read = mount_claims(
        [candidate_uri, validation.data] + ([champion_uri] if champion_uri is not None else [])
    )
    candidate, data, *champion = read.uris
    args = ["evaluate", "--candidate", candidate]
    for uri in champion:
        args += ["--champion", uri]
    args += ["--data", data, "--label", validation.label]
    args += ["--metrics", validation.metric]
    container = modelship_container(
        EVALUATE_CONTAINER,
        md.spec.serving.image,
        args,
        ending=REPORT,
        credentials_secret=md.spec.model.credentials_secret,
        limits=resources(validation.resources, None),
        mounts=[dict(TMP_MOUNT), *read.mounts],
    )
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": child_meta(rtj, validation_job_name(run), job_labels),
        "spec": {
            "backoffLimit": VALIDATION_BACKOFF_LIMIT,
            "activeDeadlineSeconds": rtj.spec.active_deadline_seconds,
            "template": {
                "metadata": {"labels": dict(job_labels)},
                "spec": job_pod_spec(
                    containers=[container],
                    volumes=[{"name": defaults.TMP_VOLUME, "emptyDir": {}}, *read.volumes],
                ),
            },
        },
    }
