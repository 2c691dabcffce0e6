"""The checked-in CRDs are what the API types generate, and the API server would accept them.

Proves: crds/ and the chart's copy are not stale; each schema is structural
(checked by the rules the API server applies), every field is described for
`kubectl explain`, defaults pass their own schema and CEL rules, and the
CRD objects themselves are valid apiextensions.k8s.io/v1 objects for
Kubernetes 1.29 and 1.37.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import kubernetes_validate
import pytest
from modelship.api.crd import KINDS, crd_file_name, crd_yaml

if TYPE_CHECKING:
    from conftest import OfflineApiServer

Schema = dict[str, Any]
REPO = Path(__file__).resolve().parents[3]
CRD_DIRS = [REPO / "crds", REPO / "charts" / "modelship" / "crds"]

KIND_NAMES = [kind.kind for kind in KINDS]
KUBERNETES_VERSIONS = ["1.29", "1.37"]

_TYPES = {"object", "array", "string", "integer", "number", "boolean"}
_KEYWORDS = {
    "description",
    "type",
    "format",
    "default",
    "enum",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "anyOf",
    "x-kubernetes-validations",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
}
_ENUM_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
}


def structural_problems(node: Schema, path: str = "") -> list[str]:
    """What keeps a schema from being structural, in the API server's sense; empty if none.

    The rules: every node has a type unless it is int-or-string or preserves
    unknown fields; the only logical junctor is int-or-string's
    `anyOf [integer, string]`; no `$ref`, `additionalProperties: false` or
    other keywords outside the structural subset; properties and
    additionalProperties never together; list-map keys are required or
    defaulted.
    """
    where = path or "<root>"
    problems = [f"{where}: keyword {key!r}" for key in sorted(set(node) - _KEYWORDS)]
    int_or_string = node.get("x-kubernetes-int-or-string") is True
    preserves = node.get("x-kubernetes-preserve-unknown-fields") is True
    kind = node.get("type")
    if kind is None and not (int_or_string or preserves):
        problems.append(f"{where}: no type")
    if kind is not None and kind not in _TYPES:
        problems.append(f"{where}: type {kind!r}")
    if "anyOf" in node and not (
        int_or_string and node["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    ):
        problems.append(f"{where}: anyOf other than int-or-string")
    if "properties" in node and "additionalProperties" in node:
        problems.append(f"{where}: both properties and additionalProperties")
    if "additionalProperties" in node and not isinstance(node["additionalProperties"], dict):
        problems.append(f"{where}: additionalProperties is not a schema")
    if ("properties" in node or "additionalProperties" in node) and kind != "object":
        problems.append(f"{where}: properties on a {kind}")
    if kind == "array" and not isinstance(node.get("items"), dict):
        problems.append(f"{where}: array without items")
    # Root metadata is the exception: the API server supplies its schema.
    fields = {"properties", "additionalProperties"} & set(node)
    if kind == "object" and not (fields or preserves) and path != ".metadata":
        problems.append(f"{where}: object that prunes every field")
    missing = set(node.get("required", [])) - set(node.get("properties", {}))
    if missing:
        problems.append(f"{where}: required but not a property: {sorted(missing)}")
    if "enum" in node and kind in _ENUM_TYPES:
        wrong = [value for value in node["enum"] if not isinstance(value, _ENUM_TYPES[kind])]
        if wrong:
            problems.append(f"{where}: enum values {wrong} are not {kind}")
    for bound in ("exclusiveMinimum", "exclusiveMaximum"):
        limit = "minimum" if bound == "exclusiveMinimum" else "maximum"
        if bound in node and (node[bound] is not True or limit not in node):
            problems.append(f"{where}: {bound} must be true beside {limit}")
    if node.get("x-kubernetes-list-type") == "map":
        item = node.get("items", {})
        for key in node.get("x-kubernetes-list-map-keys", []):
            key_schema = item.get("properties", {}).get(key)
            if key_schema is None or not (
                key in item.get("required", []) or "default" in key_schema
            ):
                problems.append(f"{where}: list-map key {key!r} is neither required nor defaulted")
    for child_path, child in _subschemas(node, path):
        problems += structural_problems(child, child_path)
    return problems


def _subschemas(node: Schema, path: str) -> Iterator[tuple[str, Schema]]:
    for name, child in node.get("properties", {}).items():
        yield f"{path}.{name}", child
    if isinstance(node.get("items"), dict):
        yield f"{path}[]", node["items"]
    if isinstance(node.get("additionalProperties"), dict):
        yield f"{path}{{}}", node["additionalProperties"]


def _all_schemas(node: Schema, path: str = "") -> Iterator[tuple[str, Schema]]:
    yield path, node
    for child_path, child in _subschemas(node, path):
        yield from _all_schemas(child, child_path)


@pytest.mark.parametrize("kind", KINDS, ids=KIND_NAMES)
@pytest.mark.parametrize("folder", CRD_DIRS, ids=["crds", "chart"])
def test_checked_in_crd_is_what_the_types_generate(kind: Any, folder: Any) -> None:
    path = folder / crd_file_name(kind)
    assert path.exists(), f"{path} is missing: run `make crds`"
    assert path.read_text() == crd_yaml(kind), f"{path} is stale: run `make crds`"


@pytest.mark.parametrize("folder", CRD_DIRS, ids=["crds", "chart"])
def test_no_crds_of_other_modelship_kinds_are_left(folder: Any) -> None:
    assert sorted(path.name for path in folder.glob("modelship.dev_*.yaml")) == sorted(
        crd_file_name(kind) for kind in KINDS
    )


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_schema_is_structural(kind: str, kind_schemas: dict[str, Schema]) -> None:
    schema = kind_schemas[kind]
    assert structural_problems(schema) == []
    # At the root, metadata may only restrict name and generateName; we restrict nothing.
    assert schema["properties"]["metadata"] == {"type": "object"}


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        ({"properties": {"a": {"type": "string"}}}, "<root>: no type"),
        ({"type": "object", "properties": {"a": {"$ref": "#/x"}}}, ".a: keyword '$ref'"),
        (
            {"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}]}}},
            ".a: anyOf other than int-or-string",
        ),
        (
            {"type": "object", "additionalProperties": False},
            "<root>: additionalProperties is not a schema",
        ),
        ({"type": "array"}, "<root>: array without items"),
        ({"type": "object"}, "<root>: object that prunes every field"),
        ({"type": "string", "enum": ["a", 1]}, "<root>: enum values [1] are not string"),
        (
            {"type": "number", "exclusiveMinimum": 0},
            "<root>: exclusiveMinimum must be true beside minimum",
        ),
        (
            {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "properties": {"name": {"type": "string"}}},
            },
            "<root>: list-map key 'name' is neither required nor defaulted",
        ),
    ],
)
def test_structural_checker_finds_problems(schema: Schema, problem: str) -> None:
    assert problem in structural_problems(schema)


@pytest.mark.parametrize(
    ("kind", "names", "columns"),
    [
        (
            "ModelDeployment",
            {
                "kind": "ModelDeployment",
                "listKind": "ModelDeploymentList",
                "plural": "modeldeployments",
                "singular": "modeldeployment",
                "shortNames": ["mdep"],
                "categories": ["modelship"],
            },
            [
                ("Ready", '.status.conditions[?(@.type=="Ready")].status'),
                ("Model", ".spec.model.name"),
                ("Stable", ".status.stable.version"),
                ("Canary", ".status.canary.weight"),
                ("Canary-Version", ".status.canary.version"),
                ("Age", ".metadata.creationTimestamp"),
            ],
        ),
        (
            "RetrainJob",
            {
                "kind": "RetrainJob",
                "listKind": "RetrainJobList",
                "plural": "retrainjobs",
                "singular": "retrainjob",
                "shortNames": ["rtj"],
                "categories": ["modelship"],
            },
            [
                ("Ready", '.status.conditions[?(@.type=="Ready")].status'),
                ("Deployment", ".spec.modelDeployment"),
                ("Schedule", ".spec.schedule"),
                ("Last-Run", ".status.lastRun.outcome"),
                ("Promoted", ".status.promoted.version"),
                ("Age", ".metadata.creationTimestamp"),
            ],
        ),
    ],
)
def test_crd_names_subresources_and_columns(
    kind: str, names: dict[str, Any], columns: list[tuple[str, str]], crds: dict[str, Any]
) -> None:
    crd = crds[kind]
    assert crd["metadata"]["name"] == f"{names['plural']}.modelship.dev"
    assert crd["spec"]["group"] == "modelship.dev"
    assert crd["spec"]["scope"] == "Namespaced"
    assert crd["spec"]["names"] == names
    [version] = crd["spec"]["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}
    assert [(c["name"], c["jsonPath"]) for c in version["additionalPrinterColumns"]] == columns


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_every_field_is_described(kind: str, kind_schemas: dict[str, Schema]) -> None:
    schema = kind_schemas[kind]
    undescribed = [
        f"{path}.{name}"
        for path, node in _all_schemas(schema)
        for name, child in node.get("properties", {}).items()
        # metadata is the API server's own; kubectl explain describes it from there.
        if not child.get("description") and f"{path}.{name}" != ".metadata"
    ]
    assert undescribed == []


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_defaults_pass_their_own_schema(
    kind: str, kind_schemas: dict[str, Schema], api_server: OfflineApiServer
) -> None:
    schema = kind_schemas[kind]
    defaults = [(path, node) for path, node in _all_schemas(schema) if "default" in node]
    assert defaults, "the schema has no defaults at all"
    errors = {
        path or "<root>": problems
        for path, node in defaults
        if (problems := api_server.errors(node, node["default"]))
    }
    assert errors == {}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("kind", KIND_NAMES)
def test_crd_is_a_valid_kubernetes_object(kind: str, version: str, crds: dict[str, Any]) -> None:
    kubernetes_validate.validate(crds[kind], version, strict=True)
