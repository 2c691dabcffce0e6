"""In-memory indexes of what the operator owns, kept current by Kopf's watch streams.

Gathering a ModelDeployment's children is a lookup here, not an API request,
so an idle operator reads nothing either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import kopf

from modelship.core.names import DEPLOYMENT, RETRAIN_JOB
from modelship.core.ownership import controller_uid

# (group, version, plural) of every kind a ModelDeployment or RetrainJob may own.
CHILD_RESOURCES = (
    ("apps", "v1", "deployments"),
    ("", "v1", "services"),
    ("autoscaling", "v2", "horizontalpodautoscalers"),
    ("policy", "v1", "poddisruptionbudgets"),
    ("batch", "v1", "cronjobs"),
    ("batch", "v1", "jobs"),
    ("keda.sh", "v1alpha1", "scaledobjects"),
    ("gateway.networking.k8s.io", "v1", "httproutes"),
    ("gateway.networking.k8s.io", "v1", "grpcroutes"),
)

Body = dict[str, Any]


def child_index_id(plural: str) -> str:
    return f"{plural}_by_owner"


def by_controller(body: kopf.Body, **_: Any) -> dict[str, Body] | None:
    """{uid of the controlling owner: the object}."""
    uid = controller_uid(body)
    return {uid: dict(body)} if uid is not None else None


def by_uid(body: kopf.Body, uid: str | None, **_: Any) -> dict[str, Body] | None:
    return {uid: dict(body)} if uid is not None else None


def by_name(body: kopf.Body, namespace: str | None, name: str | None, **_: Any) -> dict[Any, Body]:
    return {(namespace, name): dict(body)}


def by_retrain_job(body: kopf.Body, namespace: str | None, labels: kopf.Labels, **_: Any) -> Any:
    """Jobs of a RetrainJob's runs, its own or its CronJob's, by (namespace, RetrainJob name)."""
    owner = labels.get(RETRAIN_JOB)
    return {(namespace, owner): dict(body)} if owner else None


def by_followed_retrain_job(body: kopf.Body, namespace: str | None, **_: Any) -> Any:
    """ModelDeployments whose model comes from a RetrainJob, by (namespace, RetrainJob name)."""
    followed = ((body.get("spec") or {}).get("model") or {}).get("fromRetrainJob")
    return {(namespace, followed): dict(body)} if isinstance(followed, str) else None


def by_model_deployment(
    body: kopf.Body, namespace: str | None, name: str | None, labels: kopf.Labels, **_: Any
) -> Any:
    """Triton pods by (namespace, ModelDeployment name): the kubelet's view, nothing more."""
    owner = labels.get(DEPLOYMENT)
    if not owner:
        return None
    kept = {"name": name, "namespace": namespace, "labels": dict(labels)}
    return {(namespace, owner): {"metadata": kept, "status": dict(body.get("status") or {})}}


@dataclass(frozen=True)
class Indexes:
    """The indexes one handler call sees, taken from Kopf's keyword arguments."""

    children: tuple[Mapping[str, Any], ...]
    model_deployments: Mapping[str, Any]
    model_deployments_by_name: Mapping[Any, Any]
    followers: Mapping[Any, Any]
    retrain_jobs: Mapping[str, Any]
    retrain_jobs_by_name: Mapping[Any, Any]
    runs: Mapping[Any, Any]
    server_pods: Mapping[Any, Any]

    @classmethod
    def of(cls, kwargs: Mapping[str, Any]) -> Indexes:
        return cls(
            children=tuple(kwargs[child_index_id(plural)] for _, _, plural in CHILD_RESOURCES),
            model_deployments=kwargs["modeldeployments_by_uid"],
            model_deployments_by_name=kwargs["modeldeployments_by_name"],
            followers=kwargs["modeldeployments_by_retrain_job"],
            retrain_jobs=kwargs["retrainjobs_by_uid"],
            retrain_jobs_by_name=kwargs["retrainjobs_by_name"],
            runs=kwargs["jobs_by_retrain_job"],
            server_pods=kwargs["pods_by_model_deployment"],
        )

    def children_of(self, uid: str) -> list[Body]:
        return [child for index in self.children for child in index.get(uid, [])]

    def first(self, index: Mapping[Any, Any], key: Any) -> Body | None:
        return next(iter(index.get(key, [])), None)

    def all_of(self, index: Mapping[Any, Any], key: Any) -> list[Body]:
        return list(index.get(key, []))
