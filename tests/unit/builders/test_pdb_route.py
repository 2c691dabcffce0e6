"""The PodDisruptionBudget and the Gateway API HTTPRoute, compared whole.

Proves: the PDB spans every serving pod of the deployment with
maxUnavailable 1; the HTTPRoute exists only with the gatewayAPI router,
attaches to the given parents and carries one weighted backend per live
revision (the HTTPRoute is a custom resource kubernetes-validate cannot
check, so it is also checked against the vendored Gateway API v1 CRD's schema and rules).
"""

from __future__ import annotations

from typing import Any

import pytest
from modelship.builders import (
    RolloutPlan,
    build_model_deployment_children,
)
from support.custom_resources import controller_reference
from support.rollout_plans import rollout_plan
from support.upstream_crd import upstream_crds

OWNERS = [controller_reference()]


def _labels(component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "triton",
        "app.kubernetes.io/instance": "fraud",
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": "modelship",
        "modelship.dev/deployment": "fraud",
    }


GATEWAY = {
    "rollout": {
        "strategy": "Canary",
        "canary": {
            "traffic": {
                "router": "gatewayAPI",
                "parentRefs": [
                    {"name": "public", "namespace": "gateways", "sectionName": "https"},
                    {"name": "internal"},
                ],
            }
        },
    }
}


def _plan(md: Any, canary: bool) -> RolloutPlan:
    return rollout_plan(md, canary_weight=25 if canary else None)


def _of_kind(children: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [child for child in children if child["kind"] == kind]


def test_pdb(make_deployment: Any) -> None:
    md = make_deployment({})
    children = build_model_deployment_children(md, _plan(md, canary=True))
    assert _of_kind(children, "PodDisruptionBudget") == [
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {
                "name": "fraud",
                "namespace": "ml",
                "labels": _labels("disruption-budget"),
                "ownerReferences": OWNERS,
            },
            "spec": {
                "maxUnavailable": 1,
                "selector": {
                    "matchLabels": {
                        "app.kubernetes.io/instance": "fraud",
                        "app.kubernetes.io/component": "server",
                        "modelship.dev/deployment": "fraud",
                    }
                },
            },
        }
    ]


ROUTE_CASES = [
    pytest.param(
        False, [{"name": "fraud-1b64e32ff5", "port": 8000, "weight": 100}], id="stable-only"
    ),
    pytest.param(
        True,
        [
            {"name": "fraud-1b64e32ff5", "port": 8000, "weight": 75},
            {"name": "fraud-b7ce7dd1c0", "port": 8000, "weight": 25},
        ],
        id="canary-at-25",
    ),
]


@pytest.mark.parametrize(("canary", "backends"), ROUTE_CASES)
def test_http_route(canary: bool, backends: list[dict[str, Any]], make_deployment: Any) -> None:
    md = make_deployment(GATEWAY)
    routes = _of_kind(build_model_deployment_children(md, _plan(md, canary)), "HTTPRoute")
    assert routes == [
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {
                "name": "fraud",
                "namespace": "ml",
                "labels": _labels("router"),
                "ownerReferences": OWNERS,
            },
            "spec": {
                "parentRefs": [
                    {
                        "group": "gateway.networking.k8s.io",
                        "kind": "Gateway",
                        "name": "public",
                        "namespace": "gateways",
                        "sectionName": "https",
                    },
                    {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "internal"},
                ],
                "rules": [
                    {
                        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                        "backendRefs": backends,
                    }
                ],
            },
        }
    ]
    assert upstream_crds()[("gateway.networking.k8s.io/v1", "HTTPRoute")].problems(routes[0]) == []


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"rollout": {"strategy": "Canary"}},
    ],
    # Gateway settings under strategy Recreate are refused by the API (test_cel_rules).
    ids=["recreate", "canary-replicas-router"],
)
def test_no_http_route_without_the_gateway_api_router(
    spec: dict[str, Any], make_deployment: Any
) -> None:
    md = make_deployment(spec)
    assert _of_kind(build_model_deployment_children(md, _plan(md, canary=True)), "HTTPRoute") == []
