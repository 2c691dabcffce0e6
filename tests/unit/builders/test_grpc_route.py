"""The Gateway API GRPCRoute: Triton's gRPC port split like its HTTP port, compared whole.

Proves: the GRPCRoute attaches to the gRPC parents it is given (never by itself to
the HTTPRoute's: a listener serves one of the two kinds per hostname), takes every
gRPC call (no matches) and weights one backend per live revision on port 8001. Its
conformance with the upstream GRPCRoute CRD is checked in tests/conformance/upstream.
"""

from __future__ import annotations

from typing import Any

import pytest
from modelship.api.model_deployment import ParentReference
from modelship.builders import (
    RolloutPlan,
    build_model_deployment_children,
)
from modelship.builders.grpc_route import build_grpc_route
from support.custom_resources import controller_reference
from support.rollout_plans import rollout_plan

STABLE, CANARY = "fraud-1b64e32ff5", "fraud-b7ce7dd1c0"

GRPC_PARENT = {"name": "public", "namespace": "gateways", "sectionName": "grpc"}
WIRE_PARENT = {"group": "gateway.networking.k8s.io", "kind": "Gateway", **GRPC_PARENT}


def _plan(md: Any, canary: bool) -> RolloutPlan:
    return rollout_plan(md, canary_weight=10 if canary else None)


def _route(parents: list[dict[str, Any]], backends: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "GRPCRoute",
        "metadata": {
            "name": "fraud",
            "namespace": "ml",
            "labels": {
                "app.kubernetes.io/name": "triton",
                "app.kubernetes.io/instance": "fraud",
                "app.kubernetes.io/component": "router",
                "app.kubernetes.io/managed-by": "modelship",
                "modelship.dev/deployment": "fraud",
            },
            "ownerReferences": [controller_reference()],
        },
        "spec": {"parentRefs": parents, "rules": [{"backendRefs": backends}]},
    }


CASES = [
    pytest.param(
        [GRPC_PARENT],
        False,
        _route([WIRE_PARENT], [{"name": STABLE, "port": 8001, "weight": 100}]),
        id="stable-only",
    ),
    pytest.param(
        [GRPC_PARENT, {"name": "internal", "kind": "Gateway"}],
        True,
        _route(
            [
                WIRE_PARENT,
                {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "internal"},
            ],
            [
                {"name": STABLE, "port": 8001, "weight": 90},
                {"name": CANARY, "port": 8001, "weight": 10},
            ],
        ),
        id="canary-at-10-two-parents",
    ),
]


@pytest.mark.parametrize(("parents", "canary", "expected"), CASES)
def test_grpc_route(
    parents: list[dict[str, Any]], canary: bool, expected: dict[str, Any], make_deployment: Any
) -> None:
    md = make_deployment({})
    refs = [ParentReference.model_validate(parent) for parent in parents]
    assert build_grpc_route(md, refs, _plan(md, canary)) == expected


GATEWAY_CANARY = {
    "rollout": {
        "strategy": "Canary",
        "canary": {
            "traffic": {"router": "gatewayAPI", "parentRefs": [{"name": "public"}]},
        },
    }
}


def test_no_grpc_route_without_grpc_parents(make_deployment: Any) -> None:
    """The HTTPRoute's parents are not the GRPCRoute's: a listener would refuse one of them."""
    md = make_deployment(GATEWAY_CANARY)
    kinds = [child["kind"] for child in build_model_deployment_children(md, _plan(md, True))]
    assert "HTTPRoute" in kinds
    assert "GRPCRoute" not in kinds


def test_grpc_parents_give_a_grpc_route_beside_the_http_route(make_deployment: Any) -> None:
    traffic = {"router": "gatewayAPI", "parentRefs": [{"name": "public"}]}
    canary = {"traffic": {**traffic, "grpcParentRefs": [GRPC_PARENT]}}
    md = make_deployment({"rollout": {"strategy": "Canary", "canary": canary}})
    routes = [
        child
        for child in build_model_deployment_children(md, _plan(md, True))
        if child["kind"] == "GRPCRoute"
    ]
    assert routes == [
        _route(
            [WIRE_PARENT],
            [
                {"name": STABLE, "port": 8001, "weight": 90},
                {"name": CANARY, "port": 8001, "weight": 10},
            ],
        )
    ]
