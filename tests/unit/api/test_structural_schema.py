"""The pydantic -> structural OpenAPI conversion, case by case.

Proves each translation on a small type, comparing whole schemas: `$ref`s
inlined with the field's own description winning, titles and
`additionalProperties: false` dropped, `X | None` made a plain optional
field, `int | str` an int-or-string (with both sides' bounds), exclusive bounds
in OpenAPI v3.0 form, literals as enums, defaults written as the API server
applies them (`{}` for a nested object, nothing for an empty list), Kubernetes
extensions and CEL rules kept; and that anything it cannot express is refused
loudly.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

import pytest
from modelship.api.base import QUANTITY_PATTERN, ApiModel, Quantity
from modelship.api.cel import Rule, cel_rules
from modelship.api.common import PRESERVE_UNKNOWN, KubernetesObject
from modelship.api.schema import SchemaConversionError, structural_schema
from pydantic import BaseModel, ConfigDict, Field


class Color(StrEnum):
    RED = "red"
    BLUE = "blue"


class Inner(ApiModel):
    """An inner object."""

    model_config = ConfigDict(json_schema_extra=cel_rules(Rule(rule="self.size > 0", message="m")))

    size: int = Field(default=3, gt=0, description="Size.")


class Optionals(ApiModel):
    """Optional fields."""

    note: str | None = Field(default=None, max_length=5, description="A note.")
    inner: Inner | None = Field(default=None, description="Maybe inner.")


class Defaults(ApiModel):
    """Defaults of every sort."""

    color: Color = Field(default=Color.RED, description="A color.")
    inner: Inner = Field(default_factory=Inner, description="Always inner.")
    inners: list[Inner] = Field(
        default_factory=lambda: [Inner(size=7)], description="Inner objects."
    )
    tags: list[str] = Field(default_factory=list, description="Tags.")
    ratio: float = Field(default=0.5, ge=0, lt=1, description="A ratio.")


class Kubernetes(ApiModel):
    """Kubernetes-shaped fields."""

    cpu: Quantity = Field(description="A quantity.")
    affinity: KubernetesObject | None = Field(
        default=None, description="Anything.", json_schema_extra=PRESERVE_UNKNOWN
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Labels.")
    mode: Literal["fixed"] = Field(default="fixed", description="The only mode.")
    named: list[Inner] = Field(
        default_factory=list,
        description="Listed by size.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["size"]},
    )


INNER: dict[str, Any] = {
    "description": "An inner object.",
    "properties": {
        "size": {
            "default": 3,
            "description": "Size.",
            "exclusiveMinimum": True,
            "minimum": 0,
            "type": "integer",
        }
    },
    "type": "object",
    "x-kubernetes-validations": [{"message": "m", "rule": "self.size > 0"}],
}


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (
            Optionals,
            {
                "description": "Optional fields.",
                "properties": {
                    "note": {"description": "A note.", "maxLength": 5, "type": "string"},
                    "inner": {**INNER, "description": "Maybe inner."},
                },
                "type": "object",
            },
        ),
        (
            Defaults,
            {
                "description": "Defaults of every sort.",
                "properties": {
                    "color": {
                        "default": "red",
                        "description": "A color.",
                        "enum": ["red", "blue"],
                        "type": "string",
                    },
                    "inner": {**INNER, "default": {}, "description": "Always inner."},
                    "inners": {
                        "default": [{"size": 7}],
                        "description": "Inner objects.",
                        "items": INNER,
                        "type": "array",
                    },
                    "tags": {"description": "Tags.", "items": {"type": "string"}, "type": "array"},
                    "ratio": {
                        "default": 0.5,
                        "description": "A ratio.",
                        "exclusiveMaximum": True,
                        "maximum": 1,
                        "minimum": 0,
                        "type": "number",
                    },
                },
                "type": "object",
            },
        ),
        (
            Kubernetes,
            {
                "description": "Kubernetes-shaped fields.",
                "properties": {
                    # Each side's bounds on the one node: OpenAPI applies minimum to
                    # numbers only, pattern and maxLength to strings only.
                    "cpu": {
                        "anyOf": [{"type": "integer"}, {"type": "string"}],
                        "description": "A quantity.",
                        "minimum": 0,
                        "maxLength": 64,
                        "pattern": QUANTITY_PATTERN,
                        "x-kubernetes-int-or-string": True,
                    },
                    "affinity": {
                        "description": "Anything.",
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    },
                    "labels": {
                        "additionalProperties": {"type": "string"},
                        "description": "Labels.",
                        "type": "object",
                    },
                    "mode": {
                        "default": "fixed",
                        "description": "The only mode.",
                        "enum": ["fixed"],
                        "type": "string",
                    },
                    "named": {
                        "description": "Listed by size.",
                        "items": INNER,
                        "type": "array",
                        "x-kubernetes-list-map-keys": ["size"],
                        "x-kubernetes-list-type": "map",
                    },
                },
                "required": ["cpu"],
                "type": "object",
            },
        ),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else "",
)
def test_structural_schema(model: type[BaseModel], expected: dict[str, Any]) -> None:
    assert structural_schema(model) == expected


class EitherType(ApiModel):
    """A union other than X | None."""

    value: int | bool = Field(description="Either.")


class Unique(ApiModel):
    """A set: uniqueItems is not structural."""

    values: set[str] = Field(description="Unique values.")


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (EitherType, ".value: a union other than X | None or int | str"),
        (Unique, ".values: unsupported keyword 'uniqueItems'"),
    ],
)
def test_what_cannot_be_expressed_is_refused(model: type[BaseModel], message: str) -> None:
    with pytest.raises(SchemaConversionError, match=f"^{message}"):
        structural_schema(model)
