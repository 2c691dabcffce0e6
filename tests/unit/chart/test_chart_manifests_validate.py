"""Every object the chart renders, with default and non-default values, is valid Kubernetes.

Built-in kinds and the CRDs are checked with kubernetes-validate in strict mode (unknown
fields fail) for the oldest and newest Kubernetes the chart supports. Custom resources
(ServiceMonitor, the Kopf peering objects) are outside its schemas: the set of objects left
out here is asserted exactly, so nothing is skipped silently, and they have their own tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kubernetes_validate

CUSTOM_KINDS = {"ServiceMonitor", "ClusterKopfPeering", "KopfPeering"}

# value set -> the custom resources it renders, checked by their own tests.
EXPECTED_CUSTOM_OBJECTS: dict[str, set[tuple[str, str | None, str]]] = {
    "default": set(),
    "namespaced": set(),
    "peering": {("ClusterKopfPeering", None, "modelship")},
    "namespaced-peering": {("KopfPeering", "ml-team-a", "modelship")},
    "service-monitor": {("ServiceMonitor", "modelship-system", "modelship")},
    "everything-set": set(),
}


def test_every_builtin_object_validates_strictly(
    render: Callable[[str], Any], value_set: str, kubernetes_version: str
) -> None:
    problems = []
    for obj in render(value_set).objects:
        if obj["kind"] in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, kubernetes_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{obj['kind']}/{obj['metadata']['name']}: {error.message}")
    assert problems == []


def test_only_known_custom_resources_are_left_to_other_tests(
    render: Callable[[str], Any], value_set: str
) -> None:
    custom = {
        (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])
        for obj in render(value_set).objects
        if obj["kind"] in CUSTOM_KINDS
    }
    assert custom == EXPECTED_CUSTOM_OBJECTS[value_set]


def test_the_modelship_crds_are_installed(render: Callable[[str], Any], value_set: str) -> None:
    crds = {
        obj["metadata"]["name"] for obj in render(value_set).of_kind("CustomResourceDefinition")
    }
    assert {"modeldeployments.modelship.dev", "retrainjobs.modelship.dev"} <= crds


def test_namespaced_objects_live_in_the_release_namespace(
    render: Callable[[str], Any], value_set: str
) -> None:
    # Roles, RoleBindings and KopfPeerings go to the watched namespaces, on purpose.
    elsewhere_on_purpose = {"Role", "RoleBinding", "KopfPeering"}
    cluster_scoped = {
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "ClusterKopfPeering",
    }
    misplaced = [
        (obj["kind"], obj["metadata"].get("namespace"))
        for obj in render(value_set).objects
        if obj["kind"] not in elsewhere_on_purpose | cluster_scoped
        and obj["metadata"].get("namespace") != "modelship-system"
    ]
    assert misplaced == []
