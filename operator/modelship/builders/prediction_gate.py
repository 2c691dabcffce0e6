"""The canary's prediction gate: a Job that runs `modelship compare` against the stable and
canary revisions' Services before any traffic reaches the canary.

The candidate's package is fetched first (its reference profile, schema and outputs are in
it); `compare` then sends the same rows to both revisions and writes what it measured, and
its verdict against the spec's bounds, as its termination message, which the operator reads.
A Job's pod template cannot change, so the name carries a digest of the container's
arguments: a changed bound or table starts a new Job, and the old one is deleted.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from modelship.api.base import duration
from modelship.api.model_deployment import ModelDeployment
from modelship.api.retrain_job import TERMINATION_MESSAGE_PATH
from modelship.api.rollout import PredictionGate
from modelship.builders import defaults, labels
from modelship.builders.names import child_name
from modelship.builders.owner import child_meta
from modelship.builders.pod import (
    REPORT,
    fetched_model_job_pod,
    model_mounts,
    modelship_container,
    resources,
)
from modelship.builders.revision import Revision
from modelship.core import names

# A pod that could not measure (a revision not answering yet) is tried once more.
GATE_BACKOFF_LIMIT = 1
# A finished Job is deleted by the operator once it read the verdict; this is for when no
# operator is left to do so.
GATE_TTL_SECONDS = 3600
_ARGS_DIGEST_LENGTH = 6


def revision_endpoint(md: ModelDeployment, revision: Revision) -> str:
    """HOST:PORT of Triton's HTTP endpoint behind a revision's own Service."""
    return f"{revision.name}.{md.metadata.namespace}.svc:{defaults.HTTP_PORT}"


def compare_args(
    md: ModelDeployment, gate: PredictionGate, stable: Revision, canary: Revision
) -> list[str]:
    args = ["compare", "--model-repo", defaults.MODEL_REPOSITORY_PATH]
    args += ["--model", canary.model.name]
    args += ["--stable", revision_endpoint(md, stable)]
    args += ["--candidate", revision_endpoint(md, canary)]
    args += ["--rows", str(gate.rows), "--min-agreement", str(gate.min_agreement)]
    if gate.max_mean_abs_diff is not None:
        args += ["--max-mean-abs-diff", str(gate.max_mean_abs_diff)]
    args += ["--max-shift", str(gate.max_shift)]
    if gate.data is not None:
        args += ["--data", gate.data]
    return [*args, "--termination-path", TERMINATION_MESSAGE_PATH]


def prediction_gate_job_name(
    md: ModelDeployment, gate: PredictionGate, stable: Revision, canary: Revision
) -> str:
    """`<canary revision>-gate-<digest of what it compares and its resources>`."""
    measured: list[Any] = compare_args(md, gate, stable, canary)
    if gate.resources is not None:
        # Appended only when set, so the names of gates without resources stay as they were.
        measured.append(gate.resources.to_wire())
    args = json.dumps(measured, sort_keys=True).encode()
    digest = hashlib.sha256(args).hexdigest()[:_ARGS_DIGEST_LENGTH]
    return child_name(canary.name, "gate", digest)


def build_prediction_gate_job(
    md: ModelDeployment,
    gate: PredictionGate,
    stable: Revision,
    canary: Revision,
    fetch_image: str | None = None,
) -> dict[str, Any]:
    """The Job: fetch the canary's model (with `fetch_image`, else the serving image), then
    compare the two revisions' answers, within the gate's timeout."""
    model = canary.model
    job_labels = labels.deployment_labels(md.metadata.name, names.PREDICTION_GATE, canary)
    compare = modelship_container(
        names.COMPARE_CONTAINER,
        md.spec.serving.image,
        compare_args(md, gate, stable, canary),
        ending=REPORT,
        # The model's credentials read the reference table too.
        credentials_secret=model.credentials_secret if gate.data is not None else None,
        limits=resources(gate.resources, None),
        mounts=model_mounts(),
    )
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": child_meta(
            md,
            prediction_gate_job_name(md, gate, stable, canary),
            job_labels,
            labels.revision_annotations(canary),
        ),
        "spec": {
            "backoffLimit": GATE_BACKOFF_LIMIT,
            "activeDeadlineSeconds": max(1, math.ceil(duration(gate.timeout).total_seconds())),
            "ttlSecondsAfterFinished": GATE_TTL_SECONDS,
            "template": {
                "metadata": {"labels": dict(job_labels)},
                "spec": fetched_model_job_pod(md, model, fetch_image, compare),
            },
        },
    }
