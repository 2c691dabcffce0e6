"""The CustomResourceDefinitions of the API types, as checked in under crds/.

`hack/gen_crds.py` writes them; a test fails when the checked-in YAML differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel

from modelship.api import model_deployment, retrain_job
from modelship.api.base import GROUP, VERSION
from modelship.api.model_deployment import ModelDeployment
from modelship.api.retrain_job import RetrainJob
from modelship.api.schema import JsonSchema, structural_schema


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


# Every kind's `kubectl get` opens with Ready and closes with Age; its own columns go between.
READY_COLUMN = PrinterColumn(
    "Ready", "string", '.status.conditions[?(@.type=="Ready")].status', "Whether it is Ready."
)
AGE_COLUMN = PrinterColumn("Age", "date", ".metadata.creationTimestamp", "Time since creation.")


@dataclass(frozen=True)
class Kind:
    """What a CRD says about one kind besides its schema."""

    model: type[BaseModel]
    plural: str
    short_names: tuple[str, ...]
    printer_columns: tuple[PrinterColumn, ...]  # between Ready and Age

    @property
    def kind(self) -> str:
        """The kind's name: the one value its model's `kind` field takes."""
        name: str = self.model.model_fields["kind"].default
        return name

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"


KINDS = (
    Kind(
        model=ModelDeployment,
        plural=model_deployment.PLURAL,
        short_names=("mdep",),
        printer_columns=(
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
            PrinterColumn(
                "Canary-Step",
                "integer",
                ".status.canary.step",
                "Index of the canary's current step (the number of steps while promoting).",
                priority=1,
            ),
        ),
    ),
    Kind(
        model=RetrainJob,
        plural=retrain_job.PLURAL,
        short_names=("rtj",),
        printer_columns=(
            PrinterColumn(
                "Deployment", "string", ".spec.modelDeployment", "ModelDeployment it retrains."
            ),
            PrinterColumn("Schedule", "string", ".spec.schedule", "Cron schedule."),
            PrinterColumn("Last-Run", "string", ".status.lastRun.outcome", "Newest run's outcome."),
            PrinterColumn(
                "Promoted", "string", ".status.promoted.version", "Last promoted model version."
            ),
        ),
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
    # The API server lets a CRD restrict only these two; bounding them also bounds the cost
    # of the name rules (older API servers treat an unrestricted name as 3 MiB long).
    "metadata": {
        "type": "object",
        "properties": {
            "name": {
                "type": "string",
                "maxLength": 63,
                "description": "Name of the object: at most 63 characters.",
            },
            "generateName": {
                "type": "string",
                "maxLength": 58,
                "description": ("Prefix of a generated name; the API server appends 5 characters."),
            },
        },
    },
}


def root_schema(kind: Kind) -> JsonSchema:
    """The openAPIV3Schema of a kind: its spec and status, standard object fields around them."""
    schema = structural_schema(kind.model)
    schema["properties"] = {**schema["properties"], **_ROOT_PROPERTIES}
    schema["required"] = ["spec"]
    sorted_schema: JsonSchema = _sorted(schema)
    return sorted_schema


def custom_resource_definition(kind: Kind) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": kind.crd_name, "labels": {"app.kubernetes.io/part-of": CATEGORY}},
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
                        column.to_crd()
                        for column in (READY_COLUMN, *kind.printer_columns, AGE_COLUMN)
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
