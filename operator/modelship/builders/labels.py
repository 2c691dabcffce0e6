"""Labels and annotations every child carries (their names are in `modelship.core.names`)."""

from __future__ import annotations

import json
import re

from modelship.builders.revision import Revision
from modelship.core.names import (
    COMPONENT,
    DEPLOYMENT,
    INSTANCE,
    LINEAGE_ANNOTATION,
    MANAGED_BY,
    MANAGER,
    MODEL_SHA256_ANNOTATION,
    MODEL_URI_ANNOTATION,
    MODEL_VERSION,
    NAME,
    PART_OF,
    RETRAIN_JOB,
    REVISION,
    SERVER,
    SERVER_NAME,
    TRAINER,
)

# A label value: at most 63 characters, alphanumeric at both ends.
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-._A-Za-z0-9]{0,61}[A-Za-z0-9])?)?$")


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
