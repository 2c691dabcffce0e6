"""The objects the chart adds on demand: metrics Service, ServiceMonitor and Kopf peering.

Custom resources are outside kubernetes-validate's schemas, so they are compared whole
here; the peering objects are also checked against the peering CRD the chart ships.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
from support.chart_labels import LABELS

SELECTOR = {
    "app.kubernetes.io/name": "modelship",
    "app.kubernetes.io/instance": "modelship",
    "app.kubernetes.io/component": "operator",
}
HOOK = {"helm.sh/hook": "post-install,post-upgrade"}


def operator_object(api_version: str, kind: str, name: str, labels: dict[str, str]) -> Any:
    """apiVersion, kind and metadata of an object in the operator's namespace."""
    metadata = {"name": name, "namespace": "modelship-system", "labels": labels}
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata}


def test_metrics_service(render: Callable[[str], Any]) -> None:
    assert render("default").one("Service") == {
        **operator_object("v1", "Service", "modelship-metrics", LABELS),
        "spec": {
            "type": "ClusterIP",
            "selector": SELECTOR,
            "ports": [
                {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}
            ],
        },
    }


def test_service_monitor(render: Callable[[str], Any]) -> None:
    assert render("service-monitor").one("ServiceMonitor") == {
        **operator_object(
            "monitoring.coreos.com/v1",
            "ServiceMonitor",
            "modelship",
            LABELS | {"release": "prometheus"},
        ),
        "spec": {
            "selector": {"matchLabels": SELECTOR},
            "namespaceSelector": {"matchNames": ["modelship-system"]},
            "endpoints": [
                {
                    "port": "metrics",
                    "path": "/metrics",
                    "honorLabels": True,
                    "interval": "30s",
                    "scrapeTimeout": "10s",
                }
            ],
        },
    }


def test_service_monitor_only_where_its_api_is_served(
    template: Callable[[Any], Any], value_sets: dict[str, Any]
) -> None:
    wanted = value_sets["service-monitor"]
    assert wanted.api_versions == ("monitoring.coreos.com/v1",)
    unserved = type(wanted)(values=wanted.values, api_versions=())
    assert template(unserved).of_kind("ServiceMonitor") == []


def peering_crds(render: Callable[[str], Any], value_set: str) -> dict[str, dict[str, Any]]:
    return {
        crd["spec"]["names"]["kind"]: crd
        for crd in render(value_set).of_kind("CustomResourceDefinition")
        if crd["spec"]["group"] == "kopf.dev"
    }


@pytest.mark.parametrize(
    ("value_set", "expected"),
    [
        (
            "peering",
            {
                "apiVersion": "kopf.dev/v1",
                "kind": "ClusterKopfPeering",
                "metadata": {"name": "modelship", "labels": LABELS, "annotations": HOOK},
            },
        ),
        (
            "namespaced-peering",
            {
                "apiVersion": "kopf.dev/v1",
                "kind": "KopfPeering",
                "metadata": {
                    "name": "modelship",
                    "namespace": "ml-team-a",
                    "labels": LABELS,
                    "annotations": HOOK,
                },
            },
        ),
    ],
)
def test_peering_object_and_its_crd(
    render: Callable[[str], Any], value_set: str, expected: dict[str, Any]
) -> None:
    assert render(value_set).one(expected["kind"]) == expected
    crd = peering_crds(render, value_set)[expected["kind"]]
    assert crd["spec"]["scope"] == (
        "Namespaced" if "namespace" in expected["metadata"] else "Cluster"
    )
    (version,) = crd["spec"]["versions"]
    jsonschema.validate(expected, version["schema"]["openAPIV3Schema"])


def test_peering_crds_come_only_with_peering(render: Callable[[str], Any], value_set: str) -> None:
    expected = {"ClusterKopfPeering", "KopfPeering"} if "peering" in value_set else set()
    assert set(peering_crds(render, value_set)) == expected
