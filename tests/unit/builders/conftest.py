"""Fixtures of the builder tests: spec factories, samples and the restricted-pod checker.

Helpers reach tests as fixtures (pytest runs with --import-mode=importlib, so
test modules cannot import this one).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from modelship.api import ModelDeployment, RetrainJob
from support.custom_resources import UID, model_deployment_body, retrain_job_body
from support.restricted_pods import restricted_violations

REPO = Path(__file__).resolve().parents[3]
SAMPLES = sorted((REPO / "crds" / "samples").glob("*.yaml"))


def model_deployment(spec: dict[str, Any], name: str = "fraud") -> ModelDeployment:
    """A ModelDeployment in namespace ml, with a uid as the API server would give it."""
    body = model_deployment_body(name, "ml", model="fraud", version="3", uid=UID)
    body["spec"] = merged(body["spec"], spec)
    return ModelDeployment.model_validate(body)


def retrain_job(spec: dict[str, Any]) -> RetrainJob:
    body = retrain_job_body("fraud-retrain", "ml", model_deployment="fraud", uid=UID)
    body["spec"] = merged(body["spec"], spec)
    return RetrainJob.model_validate(body)


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of base with changes merged in, dicts recursively; None deletes a key."""
    result = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def load_sample(path: Path) -> list[ModelDeployment | RetrainJob]:
    """The objects of a sample, each given a uid as if applied to a cluster."""
    objects: list[ModelDeployment | RetrainJob] = []
    for document in yaml.safe_load_all(path.read_text()):
        document["metadata"]["uid"] = UID
        cls = ModelDeployment if document["kind"] == "ModelDeployment" else RetrainJob
        objects.append(cls.model_validate(document))
    return objects


def pod_templates(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod specs inside a workload object (none for other kinds)."""
    kind = obj["kind"]
    if kind in ("Deployment", "Job"):
        return [obj["spec"]["template"]["spec"]]
    if kind == "CronJob":
        return [obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]]
    return []


@pytest.fixture
def make_deployment() -> Callable[..., ModelDeployment]:
    return model_deployment


@pytest.fixture
def make_retrain_job() -> Callable[[dict[str, Any]], RetrainJob]:
    return retrain_job


@pytest.fixture
def check_restricted() -> Callable[[dict[str, Any]], list[str]]:
    return restricted_violations


@pytest.fixture
def workload_pods() -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    return pod_templates


@pytest.fixture
def samples() -> list[Path]:
    return SAMPLES


@pytest.fixture
def sample_objects() -> Callable[[Path], list[ModelDeployment | RetrainJob]]:
    return load_sample


Path_ = tuple[str | int, ...]


def edited(base: dict[str, Any], edits: dict[Path_, Any]) -> dict[str, Any]:
    """A deep copy of base with each path set to its value (None deletes the key)."""
    result = copy.deepcopy(base)
    for path, value in edits.items():
        node: Any = result
        for part in path[:-1]:
            node = node[part]
        if value is None:
            del node[path[-1]]
        else:
            node[path[-1]] = copy.deepcopy(value)
    return result


@pytest.fixture
def edit() -> Callable[[dict[str, Any], dict[Path_, Any]], dict[str, Any]]:
    return edited
