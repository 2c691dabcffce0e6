"""Long release names and name overrides still give every object a name Kubernetes accepts.

Helm refuses release names over 53 characters itself; the chart must fit everything it
builds from the longest one it accepts (or from any fullnameOverride, however long) into
the 63 characters of a DNS label, and the names objects refer to each other by must
still match after the cut.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

Template = Callable[..., Any]

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LONGEST_RELEASE = "r" * 53  # Helm's own limit on release names.

SERVED = ("monitoring.coreos.com/v1",)
VALUES_YAML = Path(__file__).resolve().parents[3] / "charts" / "modelship" / "values.yaml"


def everything_on() -> dict[str, Any]:
    """The default values with every `enabled` switch on (so every optional object the chart
    has, now or later, is rendered) and two replicas."""

    def switched_on(values: dict[str, Any]) -> dict[str, Any]:
        switched = {}
        for key, value in values.items():
            if key == "enabled":
                value = True
            elif isinstance(value, dict):
                value = switched_on(value)
            switched[key] = value
        return switched

    return {**switched_on(yaml.safe_load(VALUES_YAML.read_text())), "replicaCount": 2}


EVERYTHING_ON = everything_on()
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "longest-release-name": (LONGEST_RELEASE, EVERYTHING_ON),
    "longest-release-name-namespaced": (
        LONGEST_RELEASE,
        {**EVERYTHING_ON, "watchNamespaces": ["n" * 63]},
    ),
    "dotted-release-name": ("team.a." + "r" * 46, EVERYTHING_ON),
    "long-name-override": (LONGEST_RELEASE, {**EVERYTHING_ON, "nameOverride": "n" * 100}),
    "long-fullname-override": ("modelship", {**EVERYTHING_ON, "fullnameOverride": "f" * 100}),
}


def label_maps(obj: dict[str, Any]) -> Iterator[dict[str, str]]:
    yield obj["metadata"].get("labels", {})
    spec = obj.get("spec", {})
    if "template" in spec:
        yield spec["template"]["metadata"].get("labels", {})
    if "selector" in spec:
        yield spec["selector"].get("matchLabels", spec["selector"])


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_name_and_label_fits(template_with_any_helm: Template, case: str) -> None:
    release, values = CASES[case]
    objects = template_with_any_helm(values, release, SERVED).objects
    bad = []
    for obj in objects:
        name, kind = obj["metadata"]["name"], obj["kind"]
        if len(name) > 63 or not DNS_SUBDOMAIN.match(name):
            bad.append(f"{kind} name {name!r} ({len(name)} characters)")
        if kind == "Service" and not DNS_1035_LABEL.match(name):
            bad.append(f"Service name {name!r} is no DNS-1035 label")
        for labels in label_maps(obj):
            for key, value in labels.items():
                if len(value) > 63 or not LABEL_VALUE.match(value):
                    bad.append(f"{kind} {name}: label {key}={value!r} ({len(value)} characters)")
    assert bad == []


@pytest.mark.parametrize("case", sorted(CASES))
def test_names_that_refer_to_each_other_still_match(
    template_with_any_helm: Template, case: str
) -> None:
    release, values = CASES[case]
    rendered = template_with_any_helm(values, release, SERVED)
    (account,) = [obj["metadata"]["name"] for obj in rendered.of_kind("ServiceAccount")]
    pod = rendered.one("Deployment")["spec"]["template"]
    assert pod["spec"]["serviceAccountName"] == account
    roles = {
        (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])
        for obj in rendered.of_kind("ClusterRole") + rendered.of_kind("Role")
    }
    for binding in rendered.of_kind("ClusterRoleBinding") + rendered.of_kind("RoleBinding"):
        namespace = binding["metadata"].get("namespace")
        assert (binding["roleRef"]["kind"], namespace, binding["roleRef"]["name"]) in roles
        assert [subject["name"] for subject in binding["subjects"]] == [account]
    (service,) = rendered.of_kind("Service")
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    (monitor,) = rendered.of_kind("ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
