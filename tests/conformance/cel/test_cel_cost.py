"""Both CRDs fit the API server's CEL cost budget, by the API server's own estimate.

A real apiextensions-apiserver refuses a CRD whose x-kubernetes-validations rule is
estimated above 10,000,000, or whose rules together are above 100,000,000 (see
tests/support/cel_cost.py for the upstream sources ported). Proves: the estimator reproduces the
costs Kubernetes' own tests expect (compilation_test.go TestCostEstimation) and the
refusals reported upstream; every rule and messageExpression of both CRDs is within
the per-rule budget and each CRD within the total; and without the schema's bounds the
batch output rule would be refused, so the bounds are what keep the CRD installable.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import cel_cost

PER_RULE = 10_000_000
PER_CRD = 100_000_000


def _array(item_type: str, max_items: int | None = None, **item: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "items": {"type": item_type, **item}}
    if max_items is not None:
        schema["maxItems"] = max_items
    return schema


OBJECT_ITEMS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["required"],
        "properties": {"required": {"type": "string"}, "optional": {"type": "string"}},
    },
}
ENUM = {"type": "string", "enum": ["A", "B", "C", "LongValue"]}

# (schema, rule, cost) from k8s.io/apiextensions-apiserver
# pkg/apiserver/schema/cel/compilation_test.go TestCostEstimation (commit 1aa2717a).
UPSTREAM_COSTS = [
    ({"type": "string"}, "self.contains('test')", 314574),
    ({"type": "string", "maxLength": 10}, "self.contains('test')", 5),
    ({"type": "string"}, "self.startsWith('test')", 2),
    ({"type": "string"}, "self.endsWith('test')", 2),
    ({"type": "string"}, 'size(self + "hello") > size("hello")', 314578),
    ({"type": "string", "maxLength": 4}, 'size(self + "hello") > size("hello")', 7),
    ({"type": "string"}, 'self.matches("x")', 314574),
    ({"type": "string", "maxLength": 50}, 'self.matches("x")', 22),
    ({"type": "string"}, 'self.matches("")', 1),
    ({"type": "string"}, 'self == "x"', 2),
    ({"type": "string", "maxLength": 0}, 'self == "x"', 1),
    (ENUM, "self.contains('A')", 2),
    ({**ENUM, "maxLength": 1000}, "self.contains('A')", 401),
    (_array("string"), "self.all(x, true)", 3145727),
    (_array("string", 20), "self.all(x, true)", 62),
    (_array("number"), "self.all(x, true)", 4718591),
    (_array("number", 10), "self.all(x, true)", 32),
    (_array("boolean"), "self.all(x, true)", 1887437),
    (OBJECT_ITEMS, "self.all(x, true)", 555128),
    ({**OBJECT_ITEMS, "maxItems": 50}, "self.all(x, true)", 152),
    (_array("number", 10), "self.all(x, self.all(y, true))", 352),
    (_array("number", 10), "self.all(x, self.all(y, self.all(z, true)))", 3552),
    (_array("number"), "self.all(x, x == 0.0)", 6291454),
    (_array("number", 3 * 1024 * 2048), "self.all(x, x == 0.0)", 25165826),
    (_array("number"), "self[1] == 0.0", 2),
    (_array("string", 8), "self[1] == self[1]", 314577),
    (
        {"type": "array", "items": {"x-kubernetes-int-or-string": True}},
        "self.all(x, true)",
        4718591,
    ),
    ({"type": "object", "additionalProperties": {"type": "number"}}, "self.all(x, true)", 1348169),
    (
        {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 3},
        "self.all(x, true)",
        11,
    ),
    (
        {"type": "object", "additionalProperties": {"type": "string"}},
        "self.all(x, x.contains(self[x]))",
        2752507,
    ),
    (_array("string"), "self.isSorted() == true", 329854432052),
    (_array("string", 10, maxLength=10), "self.isSorted() == true", 52),
]


@pytest.mark.parametrize(("schema", "rule", "cost"), UPSTREAM_COSTS)
def test_estimate_matches_kubernetes(schema: dict[str, Any], rule: str, cost: int) -> None:
    assert cel_cost.estimate_rule_cost(rule, cel_cost.decl_type(schema)) == cost


STEPS = {
    "type": "array",
    "maxItems": 20,
    "items": {
        "type": "object",
        "required": ["weight"],
        "properties": {"weight": {"type": "integer"}},
    },
}


@pytest.mark.parametrize(
    ("schema", "rule", "cost"),
    [
        # map(): self 1, [] 10, accu 1, per step: accu + [s.weight] = 1 + 1 + 10 + 2.
        (STEPS, "self.map(s, s.weight).isSorted()", 1 + 10 + 1 + 20 * 14 + 20),
        # exists_one(): self 1, accu == 1 costs 2, per item: (t.weight == 7 ? accu + 1 : accu).
        (STEPS, "self.exists_one(t, t.weight == 7)", 1 + 2 + 20 * ((0 + 2) + 2)),
        # exists(): per item @not_strictly_false(!accu) 3 plus accu || p.
        (STEPS, "self.exists(t, t.weight > 7)", 1 + 1 + 20 * (3 + 1 + 3)),
        # filter(): [] 10, accu 1, per item: p (3) + (accu + [t] = 1 + 1 + 10 + 1); then size, >.
        (STEPS, "size(self.filter(t, t.weight > 7)) > 0", (1 + 10 + 1 + 20 * (3 + 13)) + 1 + 1),
        # in: the list's size, plus the operands.
        ({"type": "string", "maxLength": 5}, "self in ['a', 'b']", 2 + 1 + 10),
        # in a map: a key lookup, O(1).
        (
            {"type": "object", "additionalProperties": {"type": "string"}},
            "'cpu' in self",
            1 + 0 + 1,
        ),
        # Ternary: the condition plus the dearer branch.
        ({"type": "integer"}, "self > 1 ? self + 1 > 3 : true", 2 + 3),
    ],
    ids=["map-isSorted", "exists_one", "exists", "filter", "in", "in-map", "ternary"],
)
def test_estimate_of_hand_computed_cases(schema: dict[str, Any], rule: str, cost: int) -> None:
    assert cel_cost.estimate_rule_cost(rule, cel_cost.decl_type(schema)) == cost


def test_message_expression_with_converted_numbers_is_refused() -> None:
    """kubernetes/kubernetes#124234: string(int) has no size bound, so concatenating it is
    estimated at the whole uint64 range and the API server refuses the CRD."""
    config = {"type": "object", "properties": {"attempts": {"type": "integer"}}}
    cost = cel_cost.estimate_rule_cost(
        "'invalid attempts: ' + string(self.attempts)", cel_cost.decl_type(config)
    )
    assert cost > 100 * PER_RULE


STRINGS = _array("string", 10, maxLength=10)


@pytest.mark.parametrize(
    ("schema", "rule"),
    [
        ({"type": "string"}, "self.lowerAscii() == 'a'"),  # Kubernetes' string library
        (STRINGS, "self.transformList(i, x, x) == []"),  # a macro left out
        (STRINGS, "self.filter(x, true).all(y, true)"),  # elements of a filtered list
        ({"type": "string"}, "quantity(self).sign() >= 0"),  # Kubernetes' quantity library
        ({"type": "string"}, "self == b'x'"),  # bytes literal
        ({"type": "string"}, "self == 'a\\.b'"),  # escapes in a literal
    ],
)
def test_unknown_cel_is_refused_not_guessed(schema: dict[str, Any], rule: str) -> None:
    with pytest.raises(cel_cost.UnsupportedExpressionError):
        cel_cost.estimate_rule_cost(rule, cel_cost.decl_type(schema))


def _costs(crd: dict[str, Any]) -> list[Any]:
    root = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    costs: list[Any] = cel_cost.crd_rule_costs(root)
    return costs


def test_every_rule_is_within_the_per_rule_budget(checked_in_crd: dict[str, Any]) -> None:
    costs = _costs(checked_in_crd)
    assert costs, "the CRD has no rules: did the walk miss them?"
    over = [
        f"{cost.path} {cost.kind} {cost.expression!r}: {cost.cost}"
        for cost in costs
        if cost.cost > PER_RULE
    ]
    assert over == []


def test_all_rules_together_are_within_the_per_crd_budget(checked_in_crd: dict[str, Any]) -> None:
    assert sum(cost.cost for cost in _costs(checked_in_crd)) <= PER_CRD


def _unbounded(schema: Any) -> Any:
    """The schema with every maxLength, maxItems and maxProperties removed."""
    if isinstance(schema, dict):
        return {
            key: _unbounded(value)
            for key, value in schema.items()
            if key not in ("maxLength", "maxItems", "maxProperties")
        }
    if isinstance(schema, list):
        return [_unbounded(item) for item in schema]
    return schema


def test_without_bounds_the_batch_output_rule_is_refused(crds: dict[str, Any]) -> None:
    """The failure the bounds fix: an unbounded uri in an unbounded list of batch jobs."""
    crd = copy.deepcopy(crds["ModelDeployment"])
    version = crd["spec"]["versions"][0]
    version["schema"]["openAPIV3Schema"] = _unbounded(version["schema"]["openAPIV3Schema"])
    output = [
        cost
        for cost in _costs(crd)
        if cost.path == ".spec.batch[].output" and "{date}" in cost.expression
    ]
    assert len(output) == 1
    assert output[0].cost > 100 * PER_RULE


UPSTREAM_GROUPS = {"gateway.networking.k8s.io", "keda.sh", "monitoring.coreos.com"}
REPO = Path(__file__).resolve().parents[3]


def _vendored_upstream_crds() -> list[Any]:
    """Upstream CRDs vendored anywhere in the repository (Gateway API, KEDA, Prometheus
    Operator): real API servers accept them, so the estimate must find them within budget."""
    found = []
    for folder, subfolders, files in os.walk(REPO):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        for name in sorted(files):
            if name.endswith(".yaml") and name.split("_")[0] in UPSTREAM_GROUPS:
                found.append(pytest.param(Path(folder) / name, id=name))
    return found


VENDORED = _vendored_upstream_crds()


@pytest.mark.skipif(not VENDORED, reason="no upstream CRDs are vendored in this repository yet")
@pytest.mark.parametrize("path", VENDORED or [None])
def test_upstream_crds_real_servers_accept_are_within_budget(path: Path) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        if not document or document.get("kind") != "CustomResourceDefinition":
            continue
        for version in document["spec"]["versions"]:
            costs = cel_cost.crd_rule_costs(version["schema"]["openAPIV3Schema"])
            assert max((cost.cost for cost in costs), default=0) <= PER_RULE
            assert sum(cost.cost for cost in costs) <= PER_CRD
