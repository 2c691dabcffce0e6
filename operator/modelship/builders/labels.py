"""Labels and annotations every child carries."""

from __future__ import annotations

import json
import re

from modelship.builders.revision import Revision

NAME = "app.kubernetes.io/name"
INSTANCE = "app.kubernetes.io/instance"
COMPONENT = "app.kubernetes.io/component"
MANAGED_BY = "app.kubernetes.io/managed-by"
PART_OF = "app.kubernetes.io/part-of"
DEPLOYMENT = "modelship.dev/deployment"
REVISION = "modelship.dev/revision"
RETRAIN_JOB = "modelship.dev/retrain-job"
BATCH_JOB = "modelship.dev/batch-job"
MODEL_VERSION = "modelship.dev/model-version"

MODEL_URI_ANNOTATION = "modelship.dev/model-uri"
MODEL_SHA256_ANNOTATION = "modelship.dev/model-sha256"
LINEAGE_ANNOTATION = "modelship.dev/lineage"

# A label value: at most 63 characters, alphanumeric at both ends.
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-._A-Za-z0-9]{0,61}[A-Za-z0-9])?)?$")

MANAGER = "modelship"
SERVER_NAME = "triton"

# app.kubernetes.io/component values.
SERVER = "server"
AUTOSCALER = "autoscaler"
ROUTER = "router"
DISRUPTION_BUDGET = "disruption-budget"
BATCH = "batch"
TRAINER = "trainer"


def deployment_labels(
    deployment: str, component: str, revision: Revision | None = None
) -> dict[str, str]:
    """Labels of a ModelDeployment's child; revision labels where the child has one."""
    labels = {
        NAME: SERVER_NAME,
        INSTANCE: deployment,
        COMPONENT: component,
        MANAGED_BY: MANAGER,
        DEPLOYMENT: deployment,
    }
    if revision is not None:
        labels[REVISION] = revision.name
        # A version reported by a trainer may not fit a label; the revision name still does.
        if _LABEL_VALUE.match(revision.model.version):
            labels[MODEL_VERSION] = revision.model.version
    return labels


def server_selector(deployment: str, revision: str | None = None) -> dict[str, str]:
    """Selects the Triton pods of a deployment, or of one of its revisions."""
    selector = {INSTANCE: deployment, COMPONENT: SERVER, DEPLOYMENT: deployment}
    if revision is not None:
        selector[REVISION] = revision
    return selector


def retrain_labels(retrain_job: str, deployment: str) -> dict[str, str]:
    """Labels of a RetrainJob's children."""
    return {
        NAME: TRAINER,
        INSTANCE: retrain_job,
        COMPONENT: TRAINER,
        PART_OF: deployment,
        MANAGED_BY: MANAGER,
        RETRAIN_JOB: retrain_job,
        DEPLOYMENT: deployment,
    }


def revision_annotations(revision: Revision) -> dict[str, str]:
    """The model's provenance, recorded on the revision's Deployment and pods."""
    model = revision.model
    annotations = {MODEL_URI_ANNOTATION: model.uri}
    if model.sha256 is not None:
        annotations[MODEL_SHA256_ANNOTATION] = model.sha256
    if model.lineage is not None:
        annotations[LINEAGE_ANNOTATION] = json.dumps(model.lineage.to_wire(), sort_keys=True)
    return annotations
