"""Bodies of modelship's own kinds as users write them (plain dicts, as kubectl sends them),
and the owner reference the operator puts on every child."""

from __future__ import annotations

import copy
from typing import Any

API_VERSION = "modelship.dev/v1alpha1"
# A uid as the API server gives one, for objects the tests make up.
UID = "0b6f2a39-5c1e-4f7e-9a1d-2f3c4b5a6d7e"

Body = dict[str, Any]
# The fewest lines a ModelDeployment takes, as a user writes them for `modelship render`
# (no namespace); a test adds spec fields as further lines indented by two.
MINIMAL_MODEL_DEPLOYMENT_YAML = """\
apiVersion: modelship.dev/v1alpha1
kind: ModelDeployment
metadata: {name: fraud}
spec:
  model: {name: fraud, version: "3", uri: "s3://models/fraud/3"}
"""


def _metadata(name: str, namespace: str | None, **extra: Any) -> Body:
    metadata: Body = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    return metadata | {key: value for key, value in extra.items() if value is not None}


def model_deployment_body(
    name: str = "wine",
    namespace: str | None = "ml",
    *,
    model: str | None = None,
    version: str = "1",
    uid: str | None = None,
    generation: int | None = None,
    **spec: Any,
) -> Body:
    """A ModelDeployment serving version `version` of model `model` (default: its own name)
    from s3://models/<model>/<version>; `spec` adds or replaces top-level spec fields."""
    model = model or name
    return {
        "apiVersion": API_VERSION,
        "kind": "ModelDeployment",
        "metadata": _metadata(name, namespace, uid=uid, generation=generation),
        "spec": {
            "model": {"name": model, "version": version, "uri": f"s3://models/{model}/{version}"},
            **copy.deepcopy(spec),
        },
    }


def retrain_job_body(
    name: str = "nightly",
    namespace: str | None = "ml",
    *,
    model_deployment: str = "wine",
    image: str = "trainer:1",
    metric: str = "auc",
    uid: str | None = None,
    generation: int | None = None,
    **spec: Any,
) -> Body:
    """A run-once RetrainJob of `model_deployment` that reads s3://data/<it>/ and writes each
    run under s3://models/<it>/; `spec` adds or replaces top-level spec fields."""
    return {
        "apiVersion": API_VERSION,
        "kind": "RetrainJob",
        "metadata": _metadata(name, namespace, uid=uid, generation=generation),
        "spec": {
            "modelDeployment": model_deployment,
            "template": {"image": image},
            "data": {"uri": f"s3://data/{model_deployment}/"},
            "output": {"uri": f"s3://models/{model_deployment}/{{run}}"},
            "validation": {"metric": metric},
            **copy.deepcopy(spec),
        },
    }


def controller_reference(
    name: str = "fraud", uid: str = UID, kind: str = "ModelDeployment"
) -> Body:
    """The ownerReferences entry the operator writes on a child of `kind` `name`."""
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def model_following_body(name: str, namespace: str, retrain_job: str, model: str = "wine") -> Body:
    """A ModelDeployment that serves whatever model the RetrainJob `retrain_job` promotes."""
    return {
        "apiVersion": API_VERSION,
        "kind": "ModelDeployment",
        "metadata": _metadata(name, namespace),
        "spec": {"model": {"name": model, "fromRetrainJob": retrain_job}},
    }
