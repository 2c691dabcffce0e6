"""Both CRDs pass the API server's schema rules: structural, consistent extensions,
pruned defaults, well-formed validation rules (see tests/support/structural_schema.py for the
upstream source).

Proves it for the CRDs in crds/ and in the chart, and that the checker finds each kind
of problem it claims to, so that an empty answer means something.
"""

from __future__ import annotations

from typing import Any

import pytest
from support import structural_schema as structural

Schema = dict[str, Any]


def _root(crd: dict[str, Any]) -> Schema:
    schema: Schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def test_crd_schema_passes_the_api_server_rules(checked_in_crd: dict[str, Any]) -> None:
    assert structural.schema_problems(_root(checked_in_crd)) == []


def test_metadata_restricts_only_name_and_generate_name(checked_in_crd: dict[str, Any]) -> None:
    metadata = _root(checked_in_crd)["properties"]["metadata"]
    assert set(metadata) <= {"type", "properties"}
    assert set(metadata.get("properties", {})) <= {"name", "generateName"}


LIST_MAP = {
    "type": "array",
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["name"],
    "items": {"type": "object", "properties": {"name": {"type": "string"}}},
}


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        ({"properties": {"a": {"type": "string"}}}, "<root>: type must be object"),
        ({"type": "object", "properties": {"a": {}}}, ".a: no type"),
        (
            {"type": "object", "properties": {"a": {"type": "string", "$ref": "#/x"}}},
            ".a: keyword '$ref'",
        ),
        (
            {"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}]}}},
            ".a: anyOf other than int-or-string",
        ),
        (
            {"type": "object", "additionalProperties": {"type": "string"}},
            "<root>: additionalProperties must not be used at the root",
        ),
        (
            {
                "type": "object",
                "properties": {"a": {"type": "object", "additionalProperties": False}},
            },
            ".a: additionalProperties is not a schema",
        ),
        ({"type": "object", "properties": {"a": {"type": "array"}}}, ".a: array without items"),
        (
            {"type": "object", "properties": {"a": {"type": "object"}}},
            ".a: object that prunes every field",
        ),
        (
            {"type": "object", "properties": {"a": {"type": "string", "enum": ["a", 1]}}},
            ".a: enum values [1] are not string",
        ),
        (
            {"type": "object", "properties": {"a": {"type": "number", "exclusiveMinimum": 0}}},
            ".a: exclusiveMinimum must be true beside minimum",
        ),
        (
            {
                "type": "object",
                "properties": {"a": {**LIST_MAP, "x-kubernetes-list-map-keys": ["name"]}},
            },
            ".a: list-map key 'name' is neither required nor defaulted",
        ),
        (
            {
                "type": "object",
                "properties": {"a": {**LIST_MAP, "x-kubernetes-list-map-keys": ["id"]}},
            },
            ".a: list-map key 'id' is not a property of the items",
        ),
        (
            {
                "type": "object",
                "properties": {
                    "a": {
                        "type": "array",
                        "x-kubernetes-list-map-keys": ["n"],
                        "items": {"type": "string"},
                    }
                },
            },
            ".a: x-kubernetes-list-map-keys needs x-kubernetes-list-type map",
        ),
        (
            {
                "type": "object",
                "properties": {
                    "a": {
                        "type": "array",
                        "x-kubernetes-list-type": "set",
                        "items": {"type": "object", "properties": {"n": {"type": "string"}}},
                    }
                },
            },
            ".a: items of a set must be scalars or atomic",
        ),
        (
            {
                "type": "object",
                "properties": {
                    "a": {"type": "array", "uniqueItems": True, "items": {"type": "string"}}
                },
            },
            ".a: uniqueItems cannot be true (quadratic to check)",
        ),
        (
            {
                "type": "object",
                "properties": {
                    "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}
                },
            },
            ".metadata: only name and generateName may be restricted: ['labels']",
        ),
        (
            {"type": "object", "properties": {"metadata": {"type": "object", "description": "m"}}},
            ".metadata: must not specify anything but name and generateName: ['description']",
        ),
        (
            {
                "type": "object",
                "properties": {
                    "a": {
                        "type": "object",
                        "properties": {"b": {"type": "string"}},
                        "default": {"b": "x", "c": "y"},
                    }
                },
            },
            ".a: default has field 'c' the schema prunes",
        ),
        (
            {
                "type": "object",
                "properties": {
                    "a": {
                        "type": "string",
                        "x-kubernetes-validations": [{"rule": "true", "message": " "}],
                    }
                },
            },
            ".a: x-kubernetes-validations[0]: message must be non-empty if specified",
        ),
        (
            {
                "type": "object",
                "properties": {
                    "a": {"type": "string", "x-kubernetes-validations": [{"rule": "true &&\ntrue"}]}
                },
            },
            ".a: x-kubernetes-validations[0]: message must be specified if rule contains "
            "line breaks",
        ),
        (
            {"type": "object", "properties": {"a": {"type": "string", "pattern": "^(?!x)"}}},
            ".a: pattern uses lookaround or backreferences (not RE2)",
        ),
        (
            {
                "type": "object",
                "properties": {"a": {"type": "string", "minLength": 5, "maxLength": 2}},
            },
            ".a: minLength 5 exceeds maxLength 2",
        ),
    ],
)
def test_checker_finds_each_problem(schema: Schema, problem: str) -> None:
    assert problem in structural.schema_problems(schema)
