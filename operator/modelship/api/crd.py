"""CustomResourceDefinitions generated from the API types.

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
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, NoDefault
from pydantic_core import core_schema

from modelship.api import model_deployment, retrain_job
from modelship.api.base import GROUP, VERSION
from modelship.api.model_deployment import ModelDeployment
from modelship.api.retrain_job import RetrainJob

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


def _int_or_string(options: Sequence[Mapping[str, Any]], siblings: Mapping[str, Any]) -> JsonSchema:
    """A quantity-like `int | str`, written the way Kubernetes' own types are."""
    text = next(option for option in options if option["type"] == "string")
    unsupported = set(text) - {"type", "pattern"}
    if unsupported:
        raise SchemaConversionError(f"int | str with unsupported keywords {sorted(unsupported)}")
    schema: JsonSchema = {
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "x-kubernetes-int-or-string": True,
        **siblings,
    }
    if "pattern" in text:
        schema["pattern"] = text["pattern"]
    return schema


# --- CustomResourceDefinitions --------------------------------------------------


@dataclass(frozen=True)
class PrinterColumn:
    """A column of `kubectl get`."""

    name: str
    type: str
    json_path: str
    description: str
    priority: int = 0

    def to_crd(self) -> dict[str, Any]:
        column: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "jsonPath": self.json_path,
            "description": self.description,
        }
        if self.priority:
            column["priority"] = self.priority
        return column


READY_COLUMN = PrinterColumn(
    "Ready", "string", '.status.conditions[?(@.type=="Ready")].status', "Whether it is Ready."
)
AGE_COLUMN = PrinterColumn("Age", "date", ".metadata.creationTimestamp", "Time since creation.")


@dataclass(frozen=True)
class Kind:
    """What a CRD says about one kind besides its schema."""

    model: type[BaseModel]
    kind: str
    plural: str
    short_names: tuple[str, ...]
    printer_columns: tuple[PrinterColumn, ...]
    description: str

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"


KINDS = (
    Kind(
        model=ModelDeployment,
        kind=model_deployment.KIND,
        plural=model_deployment.PLURAL,
        short_names=("mdep",),
        printer_columns=(
            READY_COLUMN,
            PrinterColumn("Model", "string", ".spec.model.name", "Model name."),
            PrinterColumn(
                "Stable",
                "string",
                ".status.stable.version",
                "Model version of the stable revision.",
            ),
            PrinterColumn(
                "Canary", "integer", ".status.canary.weight", "Percent of traffic to the canary."
            ),
            PrinterColumn(
                "Canary-Version",
                "string",
                ".status.canary.version",
                "Model version of the canary revision.",
                priority=1,
            ),
            AGE_COLUMN,
        ),
        description=ModelDeployment.__doc__ or "",
    ),
    Kind(
        model=RetrainJob,
        kind=retrain_job.KIND,
        plural=retrain_job.PLURAL,
        short_names=("rtj",),
        printer_columns=(
            READY_COLUMN,
            PrinterColumn(
                "Deployment", "string", ".spec.modelDeployment", "ModelDeployment it retrains."
            ),
            PrinterColumn("Schedule", "string", ".spec.schedule", "Cron schedule."),
            PrinterColumn("Last-Run", "string", ".status.lastRun.outcome", "Newest run's outcome."),
            PrinterColumn(
                "Promoted", "string", ".status.promoted.version", "Last promoted model version."
            ),
            AGE_COLUMN,
        ),
        description=RetrainJob.__doc__ or "",
    ),
)
CATEGORY = "modelship"

_ROOT_PROPERTIES: dict[str, JsonSchema] = {
    "apiVersion": {
        "description": (
            "APIVersion defines the versioned schema of this representation of an object."
        ),
        "type": "string",
    },
    "kind": {
        "description": "Kind is the REST resource this object represents.",
        "type": "string",
    },
    "metadata": {"type": "object"},
}


def root_schema(kind: Kind) -> JsonSchema:
    """The openAPIV3Schema of a kind: its spec and status, standard object fields around them."""
    schema = structural_schema(kind.model)
    schema["properties"] = {**schema["properties"], **_ROOT_PROPERTIES}
    schema["required"] = ["spec"]
    schema["description"] = kind.description
    sorted_schema: JsonSchema = _sorted(schema)
    return sorted_schema


def custom_resource_definition(kind: Kind) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": kind.crd_name},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.kind.lower(),
                "shortNames": list(kind.short_names),
                "categories": [CATEGORY],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        column.to_crd() for column in kind.printer_columns
                    ],
                    "schema": {"openAPIV3Schema": root_schema(kind)},
                }
            ],
        },
    }


def _sorted(value: Any) -> Any:
    """Keys in alphabetical order, as controller-gen writes them, so diffs stay small."""
    if isinstance(value, Mapping):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


GENERATED_HEADER = (
    "# Generated by hack/gen_crds.py from the API types in operator/modelship/api/.\n"
    "# Do not edit: change the types and run `make crds`.\n"
)


def crd_file_name(kind: Kind) -> str:
    return f"{GROUP}_{kind.plural}.yaml"


def crd_yaml(kind: Kind) -> str:
    """The CRD as the YAML text checked in under crds/."""
    body = yaml.safe_dump(
        custom_resource_definition(kind), sort_keys=False, width=100, allow_unicode=True
    )
    return GENERATED_HEADER + body
