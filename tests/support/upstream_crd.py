"""An offline replay of what an API server checks when a custom resource is created.

Given a CustomResourceDefinition as its project publishes it, `UpstreamCrd.problems`
does, for one object, what kube-apiserver's apiextensions code does:

1. applies the schema's defaults (structural defaulting, before validation);
2. validates the object against `openAPIV3Schema`, read the Kubernetes way: `nullable`,
   `x-kubernetes-int-or-string`, `x-kubernetes-preserve-unknown-fields`, the formats
   `int32`, `int64` and `date-time`, list types `set` and `map` (no duplicates), and
   no unknown fields (what kubectl's strict field validation refuses and the server
   would otherwise drop silently);
3. evaluates every `x-kubernetes-validations` CEL rule at every level with cel-python,
   `self` bound to the node the rule sits on, properties named as Kubernetes escapes
   them (`namespace` is `__namespace__`).

Nothing passes unevaluated: a schema keyword, format or CEL function the harness does
not know is a problem, never a silent pass. A transition rule (one that reads `oldSelf`)
is evaluated when an old object is given, else reported in `skipped` with the reason.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import yaml

from support.kube_cel import CEL_RESERVED, Schema, apply_defaults, evaluate
from support.structural_schema import X_KUBERNETES_KEYWORDS

CRD_DIR = Path(__file__).resolve().parents[1] / "conformance" / "upstream" / "crds"


# Validation keywords that mean the same in JSON Schema Draft 4: copied as they are.
_COPIED_KEYWORDS = (
    "required",
    "enum",
    "pattern",
    "maxLength",
    "minLength",
    "maxItems",
    "minItems",
    "maxProperties",
    "minProperties",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "uniqueItems",
    "format",
)
# Schema keywords the converter understands; any other is a harness gap, not a pass.
_KNOWN_KEYWORDS = frozenset(
    {
        "type",
        "description",
        "properties",
        "items",
        "additionalProperties",
        "anyOf",
        "allOf",
        "oneOf",
        "not",
        *_COPIED_KEYWORDS,
        "default",
        "nullable",
        "example",
        "title",
        *X_KUBERNETES_KEYWORDS,
        "x-kubernetes-embedded-resource",
    }
)

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


class HarnessGapError(Exception):
    """The CRD uses something this harness cannot check: extend the harness."""


@dataclass(frozen=True)
class Checked:
    """The outcome of checking one object."""

    problems: list[str] = field(default_factory=list)
    # (path, rule, why it was not evaluated): transition rules without an old object.
    skipped: list[tuple[str, str, str]] = field(default_factory=list)


def escape_property(name: str) -> str:
    """A property name as CEL sees it (apiserver's cel.Escape)."""
    if name in CEL_RESERVED:
        return f"__{name}__"
    escaped = name.replace("__", "__underscores__")
    for char, word in ((".", "dot"), ("-", "dash"), ("/", "slash")):
        escaped = escaped.replace(char, f"__{word}__")
    return escaped


def python_pattern(pattern: str, where: str = "") -> str:
    """A Go RE2 pattern as Python's re reads it: RE2 allows flags such as `^(?i)` after the
    anchor, Python only at the very start (where they mean the same for the whole pattern)."""
    flags = re.match(r"^\^(\(\?[a-zA-Z]+\))", pattern)
    converted = f"{flags.group(1)}^{pattern[flags.end() :]}" if flags else pattern
    try:
        re.compile(converted)
    except re.error as error:
        raise HarnessGapError(
            f"{where}: pattern {pattern!r} is not read by Python: {error}"
        ) from error
    return converted


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())

    def in_range(low: int, high: int) -> Any:
        def check(value: object) -> bool:
            return not isinstance(value, int) or low <= value <= high

        return check

    def date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        return "T" in value

    checker.checks("int32")(in_range(*_INT32))
    checker.checks("int64")(in_range(*_INT64))
    checker.checks("date-time")(date_time)
    return checker


FORMAT_CHECKER = _format_checker()


def to_json_schema(node: Schema, where: str = "") -> Schema:
    """An OpenAPI v3 structural schema as a Draft 4 JSON Schema with Kubernetes semantics."""
    unknown = set(node) - _KNOWN_KEYWORDS
    if unknown:
        raise HarnessGapError(f"{where or '<root>'}: schema keywords {sorted(unknown)} unknown")
    if (fmt := node.get("format")) is not None and fmt not in FORMAT_CHECKER.checkers:
        raise HarnessGapError(f"{where}: format {fmt!r} is not checked by the harness")
    out: Schema = {}
    for key in _COPIED_KEYWORDS:
        if key in node:
            out[key] = node[key]
    if "pattern" in node:
        out["pattern"] = python_pattern(node["pattern"], where)
    if node.get("x-kubernetes-int-or-string"):
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    elif "type" in node:
        out["type"] = [node["type"], "null"] if node.get("nullable") else node["type"]
        if node.get("nullable") and "enum" in out:
            out["enum"] = [*out["enum"], None]
    if "properties" in node:
        out["properties"] = {
            name: to_json_schema(child, f"{where}.{name}")
            for name, child in node["properties"].items()
        }
    if isinstance(extra := node.get("additionalProperties"), dict):
        out["additionalProperties"] = to_json_schema(extra, f"{where}[*]")
    elif "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False  # pruned by the server, refused by kubectl
    if "items" in node:
        out["items"] = to_json_schema(node["items"], f"{where}[]")
    for key in ("anyOf", "allOf", "oneOf"):
        if key in node:
            out.setdefault("allOf", []).append(
                {key: [to_json_schema(sub, where) for sub in node[key]]}
            )
    if "not" in node:
        out["not"] = to_json_schema(node["not"], where)
    return out


def to_cel(schema: Schema, value: Any) -> Any:
    """A JSON value as CEL sees it: object properties under their escaped names."""
    return celpy.json_to_cel(_escaped(schema, value))


def _escaped(schema: Schema, value: Any) -> Any:
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        out = {}
        for key, item in value.items():
            if key in properties:
                out[escape_property(key)] = _escaped(properties[key], item)
            elif isinstance(extra, dict):
                out[key] = _escaped(extra, item)  # a map: keys are data, not names
            else:
                out[key] = item
        return out
    if isinstance(value, list) and "items" in schema:
        return [_escaped(schema["items"], item) for item in value]
    return value


def _nodes(schema: Schema, value: Any, path: str) -> Iterator[tuple[str, Schema, Any]]:
    """Every (path, schema, value) pair, the node itself first, as the validator walks them."""
    yield path, schema, value
    if isinstance(value, dict):
        for name, child in schema.get("properties", {}).items():
            if name in value:
                yield from _nodes(child, value[name], f"{path}.{name}")
        if isinstance(extra := schema.get("additionalProperties"), dict):
            for key, item in value.items():
                yield from _nodes(extra, item, f"{path}[{key!r}]")
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            yield from _nodes(schema["items"], item, f"{path}[{index}]")


def _at(value: Any, path: str) -> tuple[bool, Any]:
    """The value at a `_nodes` path in another object (the old one), if it is there."""
    current = value
    for name, key, index in re.findall(r"\.([^.\[]+)|\['([^']*)'\]|\[(\d+)\]", path):
        step: Any = name or key or int(index)
        if isinstance(step, int):
            if not isinstance(current, list) or step >= len(current):
                return False, None
        elif not isinstance(current, dict) or step not in current:
            return False, None
        current = current[step]
    return True, current


def cel_problems(schema: Schema, value: Any, old: Any = None) -> Checked:
    """Evaluate every rule of the schema at every node of the value."""
    checked = Checked()
    for path, node, item in _nodes(schema, value, "self"):
        for entry in node.get("x-kubernetes-validations", []):
            rule = entry["rule"]
            activation = {"self": to_cel(node, item)}
            if re.search(r"\boldSelf\b", rule):
                found, old_item = _at(old, path.removeprefix("self")) if old else (False, None)
                if not found:
                    why = "transition rule: no old object" if old is None else "new here"
                    checked.skipped.append((path, rule, why))
                    continue
                activation["oldSelf"] = to_cel(node, old_item)
            try:
                accepted = evaluate(rule, activation)
            except Exception as error:  # any failure to evaluate must show
                checked.problems.append(f"{path}: rule not evaluated ({error!r}): {rule}")
                continue
            if not isinstance(accepted, celpy.celtypes.BoolType):
                checked.problems.append(f"{path}: rule gave {accepted!r}, not a bool: {rule}")
            elif not accepted:
                message = entry.get("message") or f"failed rule: {rule}"
                if "messageExpression" in entry:
                    message = str(evaluate(entry["messageExpression"], activation))
                checked.problems.append(f"{path}: {message}")
    return checked


def list_type_problems(schema: Schema, value: Any) -> list[str]:
    """Duplicates in `x-kubernetes-list-type: set` or `map` lists, which the server refuses."""
    problems = []
    for path, node, item in _nodes(schema, value, "self"):
        kind = node.get("x-kubernetes-list-type")
        if not isinstance(item, list) or kind not in ("set", "map"):
            continue
        if kind == "set":
            keys = [repr(entry) for entry in item]
        else:
            names = node["x-kubernetes-list-map-keys"]
            defaults = {n: node["items"]["properties"].get(n, {}).get("default") for n in names}
            keys = [repr([entry.get(n, defaults[n]) for n in names]) for entry in item]
        if len(set(keys)) != len(keys):
            problems.append(f"{path}: duplicate entries in a list of type {kind}")
    return problems


def metadata_problems(obj: Mapping[str, Any]) -> list[str]:
    """What ObjectMeta validation refuses in name, namespace and labels."""
    meta = obj.get("metadata") or {}
    problems = []
    name = meta.get("name", "")
    if not (len(name) <= 253 and _DNS_SUBDOMAIN.match(name)):
        problems.append(f"metadata.name {name!r}: must be a DNS-1123 subdomain")
    namespace = meta.get("namespace")
    if namespace is not None and not (len(namespace) <= 63 and _DNS_LABEL.match(namespace)):
        problems.append(f"metadata.namespace {namespace!r}: must be a DNS-1123 label")
    for key, label in (meta.get("labels") or {}).items():
        prefix, _, short = key.rpartition("/")
        if prefix and not (len(prefix) <= 253 and _DNS_SUBDOMAIN.match(prefix)):
            problems.append(f"metadata.labels: key {key!r} has an invalid prefix")
        if not (len(short) <= 63 and _LABEL_NAME.match(short)):
            problems.append(f"metadata.labels: key {key!r} is not a valid label name")
        if not (isinstance(label, str) and len(label) <= 63 and _LABEL_VALUE.match(label)):
            problems.append(f"metadata.labels[{key!r}]: {label!r} is not a valid label value")
    return problems


@dataclass(frozen=True)
class UpstreamCrd:
    """One served version of an upstream CRD, ready to check objects of its kind."""

    api_version: str
    kind: str
    schema: Schema

    @functools.cached_property
    def validator(self) -> jsonschema.protocols.Validator:
        converted = to_json_schema(self.schema)
        # Every object may carry these at its root, whatever its schema says.
        for name, kind in (("apiVersion", "string"), ("kind", "string"), ("metadata", "object")):
            converted.setdefault("properties", {}).setdefault(name, {"type": kind})
        jsonschema.Draft4Validator.check_schema(converted)
        return jsonschema.Draft4Validator(converted, format_checker=FORMAT_CHECKER)

    def check(self, obj: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> Checked:
        if (obj.get("apiVersion"), obj.get("kind")) != (self.api_version, self.kind):
            return Checked([f"not a {self.api_version} {self.kind}"])
        defaulted = apply_defaults(self.schema, dict(obj))
        problems = metadata_problems(defaulted)
        for error in sorted(self.validator.iter_errors(defaulted), key=lambda e: list(e.path)):
            where = ".".join(str(part) for part in error.absolute_path) or "<root>"
            problems.append(f"{where}: {error.message}")
        problems += list_type_problems(self.schema, defaulted)
        old_defaulted = apply_defaults(self.schema, dict(old)) if old is not None else None
        rules = cel_problems(self.schema, defaulted, old_defaulted)
        return Checked([*problems, *rules.problems], rules.skipped)

    def problems(self, obj: Mapping[str, Any]) -> list[str]:
        return self.check(obj).problems


def load_crd(path: Path) -> list[UpstreamCrd]:
    crd = yaml.safe_load(path.read_text())
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    return [
        UpstreamCrd(f"{group}/{version['name']}", kind, version["schema"]["openAPIV3Schema"])
        for version in crd["spec"]["versions"]
        if version.get("served", True)
    ]


@functools.cache
def upstream_crds() -> dict[tuple[str, str], UpstreamCrd]:
    """Every served version of every vendored CRD, by (apiVersion, kind)."""
    return {
        (crd.api_version, crd.kind): crd
        for path in sorted(CRD_DIR.glob("*.yaml"))
        for crd in load_crd(path)
    }
