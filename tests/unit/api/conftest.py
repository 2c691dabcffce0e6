"""An offline stand-in for the API server's checks of a custom resource.

The API server, given an object of one of our kinds, prunes nothing we
send (kubectl refuses unknown fields), applies the schema's defaults, checks
the OpenAPI schema, then evaluates every `x-kubernetes-validations` rule
with `self` bound to the node it sits on. `OfflineApiServer` does the
same with `jsonschema` (Draft 4 reads OpenAPI v3.0's boolean
`exclusiveMinimum` the same way) and `cel-python`; tests get it as the
`api_server` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import pytest
import yaml
from support.kube_cel import CEL_RESERVED, Schema, apply_defaults, evaluate

REPO = Path(__file__).resolve().parents[3]
CRD_DIRS = (REPO / "crds", REPO / "charts" / "modelship" / "crds")
SAMPLES = REPO / "crds" / "samples"


def _escaped(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            (f"__{key}__" if key in CEL_RESERVED else key): _escaped(child)
            for key, child in value.items()
        }
    if isinstance(value, list):
        return [_escaped(item) for item in value]
    return value


def evaluate_cel(expression: str, self_value: Any) -> Any:
    """The value of a CEL expression with `self` bound to a JSON value; raises on errors."""
    return evaluate(expression, {"self": celpy.json_to_cel(_escaped(self_value))})


@dataclass(frozen=True)
class RuleFailure:
    """A rule that refused a value, or could not be evaluated on it."""

    path: str
    rule: str
    message: str
    # Set when the rule raised instead of answering: a bug in the rule, not a refusal.
    error: str | None = None


def cel_failures(schema: Schema, value: Any, path: str = "self") -> list[RuleFailure]:
    """Evaluate every rule in a schema on the matching parts of a value, as the API server does."""
    failures: list[RuleFailure] = []
    for entry in schema.get("x-kubernetes-validations", []):
        try:
            accepted = evaluate_cel(entry["rule"], value)
        except Exception as error:
            failures.append(RuleFailure(path, entry["rule"], entry["message"], repr(error)))
            continue
        if not accepted:
            message = entry["message"]
            if "messageExpression" in entry:
                message = str(evaluate_cel(entry["messageExpression"], value))
            failures.append(RuleFailure(path, entry["rule"], message))
    for child_path, child_schema, child in _children(schema, value, path):
        failures += cel_failures(child_schema, child, child_path)
    return failures


def _children(schema: Schema, value: Any, path: str) -> Iterator[tuple[str, Schema, Any]]:
    if isinstance(value, dict):
        for name, child_schema in schema.get("properties", {}).items():
            if name in value:
                yield f"{path}.{name}", child_schema, value[name]
        if isinstance(extra := schema.get("additionalProperties"), dict):
            for key, child in value.items():
                yield f"{path}[{key!r}]", extra, child
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            yield f"{path}[{index}]", schema["items"], item


def to_json_schema(schema: Schema, api_server_owned: bool = False) -> Schema:
    """A Draft 4 JSON Schema that refuses unknown fields, as kubectl's strict validation does.

    ``api_server_owned``: the node is the root's metadata, whose fields are the API
    server's own (labels, namespace, ...); the CRD may only restrict name and generateName.
    """
    converted = {
        key: value
        for key, value in schema.items()
        if not key.startswith("x-kubernetes-")
        and key not in ("properties", "items", "additionalProperties", "anyOf")
    }
    if "properties" in schema:
        converted["properties"] = {
            name: to_json_schema(child) for name, child in schema["properties"].items()
        }
        if not (schema.get("x-kubernetes-preserve-unknown-fields") or api_server_owned):
            converted["additionalProperties"] = False
        # At a kind's root, metadata is the API server's (the CRD restricts only its name).
        if "apiVersion" in schema["properties"] and "metadata" in schema["properties"]:
            converted["properties"]["metadata"] = to_json_schema(
                schema["properties"]["metadata"], api_server_owned=True
            )
    if isinstance(schema.get("additionalProperties"), dict):
        converted["additionalProperties"] = to_json_schema(schema["additionalProperties"])
    if "items" in schema:
        converted["items"] = to_json_schema(schema["items"])
    if schema.get("x-kubernetes-int-or-string"):
        converted["type"] = ["integer", "string"]
    return converted


class OfflineApiServer:
    """The API server's checks of a custom resource, offline; handed to tests as a fixture."""

    evaluate = staticmethod(evaluate_cel)
    defaulted = staticmethod(apply_defaults)

    def rule_failures(self, schema: Schema, value: Any) -> list[RuleFailure]:
        """The CEL rules a value breaks, after defaulting as the API server does."""
        return cel_failures(schema, apply_defaults(schema, value))

    def errors(self, schema: Schema, obj: Any) -> list[str]:
        """What the API server would say about an object; empty when it is accepted."""
        defaulted = apply_defaults(schema, obj)
        validator = jsonschema.Draft4Validator(to_json_schema(schema))
        errors = [
            f"{'.'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
            for error in validator.iter_errors(defaulted)
        ]
        errors += [
            f"{failure.path}: {failure.message}"
            + (f" (rule error: {failure.error})" if failure.error else "")
            for failure in cel_failures(schema, defaulted)
        ]
        return errors


def checked_in_crds() -> dict[str, dict[str, Any]]:
    """The CRDs in crds/, by kind."""
    crds = [yaml.safe_load(path.read_text()) for path in sorted(CRD_DIRS[0].glob("*.yaml"))]
    return {crd["spec"]["names"]["kind"]: crd for crd in crds}


def open_api_schema(crd: Mapping[str, Any]) -> Schema:
    schema: Schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


@pytest.fixture(scope="session")
def crds() -> dict[str, dict[str, Any]]:
    return checked_in_crds()


@pytest.fixture(scope="session")
def kind_schemas(crds: dict[str, dict[str, Any]]) -> dict[str, Schema]:
    """The openAPIV3Schema of each kind, from the checked-in CRDs."""
    return {kind: open_api_schema(crd) for kind, crd in crds.items()}


@pytest.fixture(scope="session")
def api_server() -> OfflineApiServer:
    return OfflineApiServer()
