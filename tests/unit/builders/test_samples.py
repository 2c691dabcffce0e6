"""Every object built for every sample in crds/samples/ is one Kubernetes accepts, and safe.

Proves, for each sample (new ones are picked up by the glob): every child
validates with kubernetes-validate in strict mode against Kubernetes 1.29 and
1.37 (custom resources such as ScaledObject and HTTPRoute have no schema
there: tests/conformance/upstream checks them against their upstream CRDs);
every pod template meets the `restricted` Pod Security Standard; every child carries the controller
ownerReference and the modelship labels; credentials appear only as Secret
references. The samples together exercise every child kind.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from modelship.api import ModelDeployment
from modelship.api.retrain_job import TrainerResult
from modelship.builders import (
    build_model_deployment_children,
    build_retrain_job_children,
    model_from_result,
    resolve_model,
    steady_plan,
)

SAMPLES = sorted((Path(__file__).resolve().parents[3] / "crds" / "samples").glob("*.yaml"))
KUBERNETES_VERSIONS = ["1.29", "1.37"]
CUSTOM_KINDS = {"ScaledObject", "HTTPRoute", "GRPCRoute"}
# What a RetrainJob followed by a sample would have promoted.
PROMOTED = TrainerResult(version="r1", uri="s3://models/churn/r1", sha256="d" * 64)
CREDENTIAL_WORDS = ("KEY", "SECRET", "TOKEN", "PASSWORD", "CREDENTIAL")


def _children(path: Path, sample_objects: Any) -> list[dict[str, Any]]:
    children: list[dict[str, Any]] = []
    for obj in sample_objects(path):
        if not isinstance(obj, ModelDeployment):
            children += build_retrain_job_children(obj)
            continue
        if obj.spec.model.from_retrain_job is not None:
            model = model_from_result(obj, PROMOTED)
        else:
            model = resolve_model(obj)
        children += build_model_deployment_children(obj, steady_plan(obj, model))
    return children


@pytest.mark.parametrize("path", SAMPLES, ids=[path.name for path in SAMPLES])
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_children_validate_strictly(path: Path, version: str, sample_objects: Any) -> None:
    children = _children(path, sample_objects)
    assert children
    for child in children:
        if child["kind"] in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(child, version, strict=True)


@pytest.mark.parametrize("path", SAMPLES, ids=[path.name for path in SAMPLES])
def test_children_are_owned_labelled_restricted_and_keep_secrets_by_reference(
    path: Path, sample_objects: Any, check_restricted: Any, workload_pods: Any
) -> None:
    owner = sample_objects(path)[0]
    for child in _children(path, sample_objects):
        where = f"{child['kind']}/{child['metadata']['name']}"
        assert child["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "modelship.dev/v1alpha1",
                "kind": owner.kind,
                "name": owner.metadata.name,
                "uid": owner.metadata.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ], where
        assert child["metadata"]["namespace"] == owner.metadata.namespace, where
        labels = child["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "modelship", where
        assert labels["app.kubernetes.io/instance"] == owner.metadata.name, where
        for pod in workload_pods(child):
            assert check_restricted(pod) == [], where
            for container in pod.get("initContainers", []) + pod["containers"]:
                for env in container.get("env", []):
                    looks_secret = any(word in env["name"] for word in CREDENTIAL_WORDS)
                    assert not (looks_secret and "value" in env), f"{where}: {env['name']}"
        assert _secret_names_outside_references(child, _secret_names(owner)) == [], where


def test_samples_exercise_every_child_kind(sample_objects: Any) -> None:
    kinds = {child["kind"] for path in SAMPLES for child in _children(path, sample_objects)}
    assert kinds == {
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "ScaledObject",
        "HTTPRoute",
        "CronJob",
        "Job",
    }


def _secret_names(owner: Any) -> set[str]:
    if isinstance(owner, ModelDeployment):
        secret = owner.spec.model.credentials_secret
        return {secret} if secret else set()
    return {var.secret_key_ref.name for var in owner.spec.template.env if var.secret_key_ref}


def _secret_names_outside_references(node: Any, names: set[str], path: str = "") -> list[str]:
    """Paths where a Secret's name shows up other than as secretRef or secretKeyRef name."""
    found = []
    for key, value in _items(node):
        here = f"{path}.{key}"
        if isinstance(value, str) and value in names:
            if not here.endswith(("secretRef.name", "secretKeyRef.name")):
                found.append(here)
        else:
            found += _secret_names_outside_references(value, names, here)
    return found


def _items(node: Any) -> Iterator[tuple[Any, Any]]:
    if isinstance(node, dict):
        yield from node.items()
    elif isinstance(node, list):
        yield from enumerate(node)


@pytest.mark.parametrize(
    ("pod", "problem"),
    [
        ({"hostNetwork": True, "containers": []}, "hostNetwork"),
        ({"volumes": [{"name": "h", "hostPath": {"path": "/"}}], "containers": []}, "volume h"),
        ({"containers": [{"name": "c"}]}, "c: allowPrivilegeEscalation is not false"),
    ],
    ids=["host-network", "host-path", "bare-container"],
)
def test_the_restricted_checker_catches_violations(
    pod: dict[str, Any], problem: str, check_restricted: Any
) -> None:
    assert any(found.startswith(problem) for found in check_restricted(pod))
