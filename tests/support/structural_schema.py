"""The API server's rules for a CRD's openAPIV3Schema, replayed offline.

Ported from k8s.io/apiextensions-apiserver (commit 1aa2717a):
pkg/apiserver/schema/validation.go (structural schemas: a type on every node, no
junctors but int-or-string's, metadata restricted to name and generateName at the root,
no additionalProperties at the root) and pkg/apis/apiextensions/validation/validation.go
(uniqueItems, x-kubernetes-list-type / list-map-keys / map-type consistency,
preserve-unknown-fields, int-or-string, pruned defaults, validation rule messages).
The keywords a node may carry are JSONSchemaProps' fields as the API server's own OpenAPI
documents list them (shipped by kubernetes-validate), less those refused below.

:func:`schema_problems` returns what the API server would refuse, one line per problem;
an empty list means the schema passes these rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from importlib import resources
from typing import Any

import kubernetes_validate.utils

Schema = Mapping[str, Any]

TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean"})
SCALAR_TYPES = frozenset({"string", "integer", "number", "boolean"})
# The x-kubernetes-* extensions a structural schema may carry (no embedded resources).
X_KUBERNETES_KEYWORDS = (
    "x-kubernetes-validations",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
)
# What validation.go refuses outright in a CRD schema ("... is not supported").
UNSUPPORTED = frozenset(
    {"$ref", "$schema", "additionalItems", "definitions", "dependencies", "id", "patternProperties"}
)
# Accepted by the API server, but with rules this replay does not port (junctors, nullable,
# embedded resources), or only as false (uniqueItems): refused here, so none slips through.
NOT_REPLAYED = frozenset(
    {"allOf", "oneOf", "not", "nullable", "title", "example", "externalDocs", "uniqueItems"}
    | {"x-kubernetes-embedded-resource"}
)


def json_schema_props_fields() -> frozenset[str]:
    """The fields of apiextensions.k8s.io/v1 JSONSchemaProps, from the OpenAPI documents of the
    newest Kubernetes release kubernetes-validate ships."""
    version = kubernetes_validate.utils.latest_version()
    document = resources.files("kubernetes_validate").joinpath(
        f"kubernetes-json-schema/v{version}-local-strict/jsonschemaprops-apiextensions-v1.json"
    )
    return frozenset(json.loads(document.read_text())["properties"])


KEYWORDS = json_schema_props_fields() - UNSUPPORTED - NOT_REPLAYED
INT_OR_STRING_ANY_OF = [{"type": "integer"}, {"type": "string"}]
_ENUM_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
}
# Go's RE2 has no lookaround and no backreferences; a pattern using them is refused.
_NOT_RE2 = re.compile(r"\(\?[=!<]|\\[1-9]")


def schema_problems(root: Schema) -> list[str]:
    """Everything the API server refuses in a CRD version's openAPIV3Schema."""
    problems = _root_problems(root)
    for path, node in walk(root):
        problems += node_problems(node, path)
    return problems


def walk(node: Schema, path: str = "") -> Iterator[tuple[str, Schema]]:
    """Every schema node with its path: .field, [] for list items, {} for map values."""
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from walk(child, f"{path}.{name}")
    if isinstance(node.get("items"), Mapping):
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), Mapping):
        yield from walk(node["additionalProperties"], f"{path}{{}}")


def _root_problems(root: Schema) -> list[str]:
    problems = []
    if root.get("type") != "object":
        problems.append("<root>: type must be object")
    if "additionalProperties" in root:
        problems.append("<root>: additionalProperties must not be used at the root")
    properties = root.get("properties", {})
    for name in ("kind", "apiVersion"):
        if name in properties and properties[name].get("type") != "string":
            problems.append(f"<root>.{name}: type must be string")
    if "metadata" in properties:
        problems += _metadata_problems(properties["metadata"])
    return problems


def _metadata_problems(metadata: Schema) -> list[str]:
    """At the root, metadata may restrict name and generateName only: nothing else, no default."""
    problems = []
    if metadata.get("type") != "object":
        problems.append(".metadata: type must be object")
    extra = sorted(set(metadata) - {"type", "properties"})
    if extra:
        problems.append(f".metadata: must not specify anything but name and generateName: {extra}")
    extra_fields = sorted(set(metadata.get("properties", {})) - {"name", "generateName"})
    if extra_fields:
        problems.append(f".metadata: only name and generateName may be restricted: {extra_fields}")
    return problems


def node_problems(node: Schema, path: str) -> list[str]:
    """What keeps one node from being structural and valid; its children are not looked at."""
    where = path or "<root>"
    problems = [f"{where}: keyword {key!r}" for key in sorted(set(node) - KEYWORDS)]
    int_or_string = node.get("x-kubernetes-int-or-string") is True
    preserves = node.get("x-kubernetes-preserve-unknown-fields") is True
    kind = node.get("type")
    problems += _type_problems(node, where, kind, int_or_string, preserves)
    problems += _value_problems(node, where, kind)
    problems += _list_problems(node, where, kind)
    problems += _rule_problems(node, where)
    if "default" in node:
        problems += [f"{where}: default {problem}" for problem in _pruned(node, node["default"])]
    return problems


def _type_problems(
    node: Schema, where: str, kind: Any, int_or_string: bool, preserves: bool
) -> list[str]:
    problems = []
    if kind is None and not (int_or_string or preserves):
        problems.append(f"{where}: no type")
    if kind is not None and kind not in TYPES:
        problems.append(f"{where}: type {kind!r}")
    if "anyOf" in node and not (int_or_string and node["anyOf"] == INT_OR_STRING_ANY_OF):
        problems.append(f"{where}: anyOf other than int-or-string")
    if "x-kubernetes-preserve-unknown-fields" in node and not preserves:
        problems.append(f"{where}: x-kubernetes-preserve-unknown-fields must be true or undefined")
    if "x-kubernetes-int-or-string" in node and not int_or_string:
        problems.append(f"{where}: x-kubernetes-int-or-string must be true or undefined")
    if int_or_string and preserves:
        problems.append(f"{where}: preserve-unknown-fields must be false with int-or-string")
    if "properties" in node and "additionalProperties" in node:
        problems.append(f"{where}: both properties and additionalProperties")
    if "additionalProperties" in node and not isinstance(node["additionalProperties"], Mapping):
        problems.append(f"{where}: additionalProperties is not a schema")
    if ("properties" in node or "additionalProperties" in node) and kind != "object":
        problems.append(f"{where}: properties on a {kind}")
    if kind == "array" and not isinstance(node.get("items"), Mapping):
        problems.append(f"{where}: array without items")
    if "items" in node and kind != "array":
        problems.append(f"{where}: items on a {kind}")
    fields = {"properties", "additionalProperties"} & set(node)
    if kind == "object" and not (fields or preserves) and where != ".metadata":
        problems.append(f"{where}: object that prunes every field")
    missing = set(node.get("required", [])) - set(node.get("properties", {}))
    if missing:
        problems.append(f"{where}: required but not a property: {sorted(missing)}")
    return problems


def _value_problems(node: Schema, where: str, kind: Any) -> list[str]:
    problems = []
    if node.get("uniqueItems"):
        problems.append(f"{where}: uniqueItems cannot be true (quadratic to check)")
    if "enum" in node and kind in _ENUM_TYPES:
        wrong = [
            value
            for value in node["enum"]
            if not isinstance(value, _ENUM_TYPES[kind])
            or isinstance(value, bool) != (kind == "boolean")
        ]
        if wrong:
            problems.append(f"{where}: enum values {wrong} are not {kind}")
    for bound in ("exclusiveMinimum", "exclusiveMaximum"):
        limit = "minimum" if bound == "exclusiveMinimum" else "maximum"
        if bound in node and (node[bound] is not True or limit not in node):
            problems.append(f"{where}: {bound} must be true beside {limit}")
    for low, high in (("minimum", "maximum"), ("minLength", "maxLength"), ("minItems", "maxItems"),
                      ("minProperties", "maxProperties")):  # fmt: skip
        if low in node and high in node and node[low] > node[high]:
            problems.append(f"{where}: {low} {node[low]} exceeds {high} {node[high]}")
    for bound in (
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
    ):
        if bound in node and (not isinstance(node[bound], int) or node[bound] < 0):
            problems.append(f"{where}: {bound} must be a non-negative integer")
    if "pattern" in node:
        try:
            re.compile(node["pattern"])
        except re.error as error:
            problems.append(f"{where}: pattern is not a regular expression: {error}")
        if _NOT_RE2.search(node["pattern"]):
            problems.append(f"{where}: pattern uses lookaround or backreferences (not RE2)")
    return problems


def _list_problems(node: Schema, where: str, kind: Any) -> list[str]:
    problems = []
    list_type = node.get("x-kubernetes-list-type")
    keys = node.get("x-kubernetes-list-map-keys")
    if "x-kubernetes-map-type" in node:
        if kind != "object":
            problems.append(f"{where}: x-kubernetes-map-type needs type object")
        if node["x-kubernetes-map-type"] not in ("granular", "atomic"):
            problems.append(f"{where}: x-kubernetes-map-type must be granular or atomic")
    if list_type is not None:
        if kind != "array":
            problems.append(f"{where}: x-kubernetes-list-type needs type array")
        if list_type not in ("atomic", "set", "map"):
            problems.append(f"{where}: x-kubernetes-list-type {list_type!r}")
    if keys and list_type != "map":
        problems.append(f"{where}: x-kubernetes-list-map-keys needs x-kubernetes-list-type map")
    items = node.get("items", {})
    if (
        list_type == "set"
        and items.get("type") not in SCALAR_TYPES
        and not (
            items.get("x-kubernetes-map-type") == "atomic"
            or items.get("x-kubernetes-list-type") == "atomic"
        )
    ):
        problems.append(f"{where}: items of a set must be scalars or atomic")
    if list_type == "map":
        if not keys:
            problems.append(f"{where}: x-kubernetes-list-type map needs x-kubernetes-list-map-keys")
        if items.get("type") != "object":
            problems.append(f"{where}: items of a list-type map must be objects")
        if keys and len(set(keys)) != len(keys):
            problems.append(f"{where}: x-kubernetes-list-map-keys has duplicates")
        for key in keys or []:
            key_schema = items.get("properties", {}).get(key)
            if key_schema is None:
                problems.append(f"{where}: list-map key {key!r} is not a property of the items")
                continue
            if key_schema.get("type") not in SCALAR_TYPES:
                problems.append(f"{where}: list-map key {key!r} must be a scalar")
            if key not in items.get("required", []) and "default" not in key_schema:
                problems.append(f"{where}: list-map key {key!r} is neither required nor defaulted")
    return problems


def _rule_problems(node: Schema, where: str) -> list[str]:
    problems = []
    for index, entry in enumerate(node.get("x-kubernetes-validations", [])):
        at = f"{where}: x-kubernetes-validations[{index}]"
        if not str(entry.get("rule", "")).strip():
            problems.append(f"{at}: rule is empty")
        if "message" in entry:
            message = str(entry["message"])
            if not message.strip():
                problems.append(f"{at}: message must be non-empty if specified")
            if "\n" in message:
                problems.append(f"{at}: message must not contain line breaks")
        elif "\n" in str(entry.get("rule", "")) and "messageExpression" not in entry:
            problems.append(f"{at}: message must be specified if rule contains line breaks")
        if "messageExpression" in entry and not str(entry["messageExpression"]).strip():
            problems.append(f"{at}: messageExpression must be non-empty if specified")
    return problems


def _pruned(schema: Schema, value: Any) -> list[str]:
    """Defaults must already be pruned: no field the schema would drop."""
    if isinstance(value, Mapping):
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            return []
        if isinstance(schema.get("additionalProperties"), Mapping):
            return [
                p
                for child in value.values()
                for p in _pruned(schema["additionalProperties"], child)
            ]
        properties = schema.get("properties", {})
        problems = [
            f"has field {name!r} the schema prunes" for name in value if name not in properties
        ]
        for name, child in value.items():
            if name in properties:
                problems += _pruned(properties[name], child)
        return problems
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [problem for item in value for problem in _pruned(schema["items"], item)]
    return []
