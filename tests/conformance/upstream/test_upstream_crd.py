"""The offline replay of upstream CRDs refuses what a real API server refuses, and says why.

Without these, every "validates against the upstream CRD" test could pass for a
harness that checks nothing.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from support.keda_webhook import scaled_object
from support.upstream_crd import HarnessGapError, UpstreamCrd, escape_property, upstream_crds

HTTP_ROUTE = ("gateway.networking.k8s.io/v1", "HTTPRoute")
GRPC_ROUTE = ("gateway.networking.k8s.io/v1", "GRPCRoute")
SCALED_OBJECT = ("keda.sh/v1alpha1", "ScaledObject")
SERVICE_MONITOR = ("monitoring.coreos.com/v1", "ServiceMonitor")


def _http_route(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "churn", "namespace": "ml", "labels": {"app": "churn"}},
        "spec": {
            "parentRefs": [{"name": "public"}],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": [
                        {"name": "churn-a", "port": 8000, "weight": 90},
                        {"name": "churn-b", "port": 8000, "weight": 10},
                    ],
                }
            ],
            **spec,
        },
    }


def _backends(count: int, weight: int = 1) -> list[dict[str, Any]]:
    return [{"name": f"churn-{i}", "port": 8000, "weight": weight} for i in range(count)]


def test_every_vendored_crd_loads_and_converts() -> None:
    crds = upstream_crds()
    for key in (HTTP_ROUTE, GRPC_ROUTE, SCALED_OBJECT, SERVICE_MONITOR):
        assert key in crds
    for crd in crds.values():
        assert crd.validator is not None  # every keyword and format of it is understood


def test_a_good_http_route_passes() -> None:
    assert upstream_crds()[HTTP_ROUTE].problems(_http_route()) == []


BAD_HTTP_ROUTES = {
    "duplicate parentRefs": (
        {"parentRefs": [{"name": "public"}, {"name": "public"}]},
        "sectionName must be unique",
    ),
    "one of two refs to a parent without sectionName": (
        {"parentRefs": [{"name": "public"}, {"name": "public", "sectionName": "https"}]},
        "sectionName must be specified",
    ),
    "sectionName not a DNS name": (
        {"parentRefs": [{"name": "public", "sectionName": "HTTP_listener"}]},
        "parentRefs.0.sectionName: 'HTTP_listener' does not match",
    ),
    "33 parentRefs": (
        {"parentRefs": [{"name": f"gw-{i}"} for i in range(33)]},
        "is too long",
    ),
    "17 backendRefs": (
        {"rules": [{"backendRefs": _backends(17)}]},
        "rules.0.backendRefs: [",
    ),
    "a weight above 1000000": (
        {"rules": [{"backendRefs": _backends(1, weight=1_000_001)}]},
        "1000001 is greater than the maximum of 1000000",
    ),
    "a Service backend without port": (
        {"rules": [{"backendRefs": [{"name": "churn-a"}]}]},
        "Must have port for Service reference",
    ),
    "an unknown field": ({"timeout": "5s"}, "Additional properties are not allowed"),
    "a path with //": (
        {"rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/a//b"}}]}]},
        "must not contain '//'",
    ),
}


@pytest.mark.parametrize(("spec", "expected"), BAD_HTTP_ROUTES.values(), ids=BAD_HTTP_ROUTES)
def test_a_bad_http_route_is_refused_with_the_upstream_reason(
    spec: dict[str, Any], expected: str
) -> None:
    problems = upstream_crds()[HTTP_ROUTE].problems(_http_route(**spec))
    assert any(expected in problem for problem in problems), problems


def test_parent_refs_in_other_namespaces_are_distinct() -> None:
    """The uniqueness rule reads `namespace` as `__namespace__`; a harness that did not
    escape it would refuse (or accept) both of these."""
    crd = upstream_crds()[HTTP_ROUTE]
    distinct = [{"name": "public", "namespace": "a"}, {"name": "public", "namespace": "b"}]
    same = [{"name": "public", "namespace": "a"}, {"name": "public", "namespace": "a"}]
    assert crd.problems(_http_route(parentRefs=distinct)) == []
    assert crd.problems(_http_route(parentRefs=same)) != []


def test_metadata_is_checked_like_object_meta() -> None:
    route = _http_route()
    route["metadata"]["name"] = "Churn"
    route["metadata"]["labels"] = {"app": "x" * 64}
    problems = upstream_crds()[HTTP_ROUTE].problems(route)
    assert any("metadata.name" in problem for problem in problems)
    assert any("not a valid label value" in problem for problem in problems)


def test_a_good_scaled_object_passes() -> None:
    assert upstream_crds()[SCALED_OBJECT].problems(scaled_object()) == []


BAD_SCALED_OBJECTS = {
    "min above max": (
        {"minReplicaCount": 5, "maxReplicaCount": 2},
        "minReplicaCount must be less than or equal to maxReplicaCount",
    ),
    "no triggers": ({"triggers": None}, "'triggers' is a required property"),
    "trigger metadata not strings": (
        {"triggers": [{"type": "cpu", "metadata": {"value": 70}}]},
        "70 is not of type 'string'",
    ),
    "replica count above int32": ({"maxReplicaCount": 2**31}, "is not a 'int32'"),
}


@pytest.mark.parametrize(("spec", "expected"), BAD_SCALED_OBJECTS.values(), ids=BAD_SCALED_OBJECTS)
def test_a_bad_scaled_object_is_refused(spec: dict[str, Any], expected: str) -> None:
    obj = scaled_object(**spec)
    obj["spec"] = {key: value for key, value in obj["spec"].items() if value is not None}
    problems = upstream_crds()[SCALED_OBJECT].problems(obj)
    assert any(expected in problem for problem in problems), problems


def test_a_service_monitor_needs_a_selector() -> None:
    crd = upstream_crds()[SERVICE_MONITOR]
    good = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "churn", "namespace": "ml"},
        "spec": {"selector": {"matchLabels": {"app": "churn"}}, "endpoints": [{"port": "m"}]},
    }
    assert crd.problems(good) == []
    bad = copy.deepcopy(good)
    del bad["spec"]["selector"]
    assert any("'selector' is a required property" in p for p in crd.problems(bad))


def _toy(rule: str, **extra: Any) -> UpstreamCrd:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {"replicas": {"type": "integer"}},
                "x-kubernetes-validations": [{"rule": rule, "message": "toy rule", **extra}],
            },
        },
    }
    return UpstreamCrd("example.com/v1", "Toy", schema)


def _toy_object(replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Toy",
        "metadata": {"name": "t"},
        "spec": {"replicas": replicas},
    }


def test_a_rule_the_harness_cannot_evaluate_fails_loudly() -> None:
    problems = _toy("self.replicas.isQuantity()").problems(_toy_object(1))
    assert len(problems) == 1
    assert "rule not evaluated" in problems[0]


def test_a_rule_that_does_not_give_a_bool_fails() -> None:
    assert "not a bool" in _toy("self.replicas").problems(_toy_object(1))[0]


def test_a_message_expression_becomes_the_message() -> None:
    toy = _toy("self.replicas < 3", messageExpression="'got ' + string(self.replicas)")
    assert toy.problems(_toy_object(5)) == ["self.spec: got 5"]


def test_transition_rules_are_skipped_only_without_an_old_object() -> None:
    toy = _toy("self.replicas >= oldSelf.replicas")
    created = toy.check(_toy_object(1))
    assert created.problems == []
    assert created.skipped == [
        ("self.spec", "self.replicas >= oldSelf.replicas", "transition rule: no old object")
    ]
    shrunk = toy.check(_toy_object(1), old=_toy_object(3))
    assert shrunk.problems == ["self.spec: toy rule"]
    assert toy.check(_toy_object(3), old=_toy_object(1)).problems == []


def test_a_schema_keyword_the_harness_does_not_know_fails_loudly() -> None:
    toy = UpstreamCrd("example.com/v1", "Toy", {"type": "object", "x-unknown-rule": True})
    with pytest.raises(HarnessGapError, match="x-unknown-rule"):
        toy.problems(_toy_object(1))
    odd_format = {"type": "object", "properties": {"a": {"type": "string", "format": "cidr"}}}
    with pytest.raises(HarnessGapError, match="cidr"):
        UpstreamCrd("example.com/v1", "Toy", odd_format).problems(_toy_object(1))


@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        ("namespace", "__namespace__"),
        ("name", "name"),
        ("x-y", "x__dash__y"),
        ("a.b", "a__dot__b"),
        ("a__b", "a__underscores__b"),
    ],
)
def test_property_names_are_escaped_as_kubernetes_does(name: str, escaped: str) -> None:
    assert escape_property(name) == escaped
