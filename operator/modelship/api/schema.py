"""Structural OpenAPI v3 schemas from the pydantic API types.

Pydantic writes JSON Schema; the API server wants a structural OpenAPI v3
schema. The conversion inlines `$ref`s, drops titles and
`additionalProperties: false` (the API server prunes unknown fields itself),
turns `anyOf [X, null]` into a plain optional X and `int | str` quantities
into `x-kubernetes-int-or-string`, and carries defaults, including `{}` for
nested objects so that their own defaults apply. Anything else it does not
know is refused, so a new kind of field cannot slip into a CRD unnoticed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, NoDefault
from pydantic_core import core_schema

JsonSchema = dict[str, Any]

# Keywords a structural schema may carry, besides the x-kubernetes-* extensions.
_KEPT_KEYWORDS = frozenset(
    {
        "type",
        "format",
        "description",
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
    }
)
_DROPPED_KEYWORDS = frozenset({"title", "$defs"})


class SchemaConversionError(ValueError):
    """A pydantic schema uses something a structural OpenAPI schema cannot express."""


class _KubernetesJsonSchema(GenerateJsonSchema):
    """Pydantic's generator, with defaults written the way the API server applies them.

    Default factories are called (pydantic leaves them out), and a default
    model is written with only its non-default fields: usually `{}`, which
    the API server fills in from the nested defaults. Empty lists and maps
    are not written: absent means the same and keeps stored objects short.
    """

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        if "default_factory" in schema and not schema.get("default_factory_takes_data"):
            default = schema["default_factory"]()  # type: ignore[call-arg]
        else:
            default = schema.get("default", NoDefault)
        if default is None or (isinstance(default, list | dict) and not default):
            return NoDefault
        return default

    def encode_default(self, dft: Any) -> Any:
        if isinstance(dft, BaseModel):
            return dft.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        if isinstance(dft, list):
            return [self.encode_default(item) for item in dft]
        return super().encode_default(dft)


def structural_schema(model: type[BaseModel]) -> JsonSchema:
    """The structural OpenAPI v3 schema of a pydantic model."""
    json_schema = model.model_json_schema(
        by_alias=True, mode="validation", schema_generator=_KubernetesJsonSchema
    )
    return _convert(json_schema, json_schema.get("$defs", {}), path="")


def _convert(node: Mapping[str, Any], defs: Mapping[str, Any], path: str) -> JsonSchema:
    node = _flatten(node, defs, path)
    converted: JsonSchema = {}
    for key, value in node.items():
        if key in _DROPPED_KEYWORDS:
            continue
        if key == "properties":
            converted[key] = {
                name: _convert(child, defs, f"{path}.{name}") for name, child in value.items()
            }
        elif key == "items":
            converted[key] = _convert(value, defs, f"{path}[]")
        elif key == "additionalProperties":
            # false: the API server prunes unknown fields anyway; true: only
            # meaningful with x-kubernetes-preserve-unknown-fields, kept below.
            if isinstance(value, Mapping):
                converted[key] = _convert(value, defs, f"{path}{{}}")
        elif key in ("exclusiveMinimum", "exclusiveMaximum"):
            # JSON Schema 2020-12 gives the bound; OpenAPI v3.0 a flag beside minimum/maximum.
            converted["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            converted[key] = True
        elif key == "anyOf" and node.get("x-kubernetes-int-or-string"):
            converted[key] = value  # the one junctor a structural schema allows
        elif key == "const":
            converted["enum"] = [value]
        elif key in _KEPT_KEYWORDS or key.startswith("x-kubernetes-"):
            converted[key] = value
        else:
            raise SchemaConversionError(f"{path or '<root>'}: unsupported keyword {key!r}")
    if "x-kubernetes-preserve-unknown-fields" in converted:
        converted.pop("additionalProperties", None)
    return converted


def _flatten(node: Mapping[str, Any], defs: Mapping[str, Any], path: str) -> Mapping[str, Any]:
    """Resolve `$ref` and `anyOf` into one node; the field's own keywords win."""
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/$defs/")
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        return _flatten({**defs[name], **siblings}, defs, path)
    if "anyOf" in node:
        siblings = {key: value for key, value in node.items() if key != "anyOf"}
        options = [option for option in node["anyOf"] if option != {"type": "null"}]
        if len(options) == 1:
            return _flatten({**_flatten(options[0], defs, path), **siblings}, defs, path)
        if sorted(option.get("type") for option in options) == ["integer", "string"]:
            return _int_or_string(options, siblings)
        raise SchemaConversionError(f"{path}: a union other than X | None or int | str")
    return node


# Keywords of each side of an `int | str` that apply to that side's values only, so they
# can sit on the one int-or-string node (OpenAPI applies number keywords to numbers only).
_INT_OR_STRING_KEYWORDS = {
    "integer": {"type", "minimum", "maximum"},
    "string": {"type", "pattern", "maxLength"},
}


def _int_or_string(options: Sequence[Mapping[str, Any]], siblings: Mapping[str, Any]) -> JsonSchema:
    """A quantity-like `int | str`, written the way Kubernetes' own types are."""
    schema: JsonSchema = {
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "x-kubernetes-int-or-string": True,
        **siblings,
    }
    for option in options:
        unsupported = set(option) - _INT_OR_STRING_KEYWORDS[option["type"]]
        if unsupported:
            raise SchemaConversionError(
                f"int | str with unsupported keywords {sorted(unsupported)}"
            )
        schema.update({key: value for key, value in option.items() if key != "type"})
    return schema
