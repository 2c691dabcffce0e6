"""`helm lint --strict` passes for every value set (test_chart_values_refused.py: bad
values are refused), with Helm 3 and Helm 4. The
schema itself must be valid draft-07 with a description on every property, since it is
the chart's reference documentation.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import yaml

Lint = Callable[[dict[str, Any]], tuple[int, str]]
CHART = Path(__file__).resolve().parents[3] / "charts" / "modelship"


def test_lint_passes(lint: Lint, value_sets: dict[str, Any], value_set: str) -> None:
    code, output = lint(value_sets[value_set].values)
    assert code == 0, output


def test_template_refuses_kubernetes_older_than_supported(any_helm: str) -> None:
    result = subprocess.run(
        [any_helm, "template", "modelship", str(CHART), "--kube-version=1.28.0"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode != 0
    assert "chart requires kubeVersion: >=1.29.0-0" in result.stderr


def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
    return loaded


def test_schema_is_valid_draft_07() -> None:
    assert schema()["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema())


def test_default_values_meet_the_schema() -> None:
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    jsonschema.Draft7Validator(schema()).validate(defaults)


def test_schema_covers_exactly_the_default_values() -> None:
    # Every key in values.yaml is described, and the schema describes no phantom keys.
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())

    def keys(values: dict[str, Any], node: dict[str, Any], prefix: str) -> list[str]:
        found = []
        for key, value in values.items():
            found.append(prefix + key)
            child = node["properties"][key]
            if isinstance(value, dict) and "properties" in child:
                found += keys(value, child, f"{prefix}{key}.")
        return found

    def schema_keys(node: dict[str, Any], prefix: str) -> list[str]:
        found = []
        for key, child in node.get("properties", {}).items():
            found.append(prefix + key)
            found += schema_keys(child, f"{prefix}{key}.")
        return found

    assert sorted(keys(defaults, schema(), "")) == sorted(schema_keys(schema(), ""))


def test_every_property_is_described_and_closed() -> None:
    undescribed, open_objects = [], []

    def walk(node: dict[str, Any], path: str) -> None:
        for key, child in node.get("properties", {}).items():
            if not child.get("description"):
                undescribed.append(path + key)
            if "properties" in child and child.get("additionalProperties") is not False:
                open_objects.append(path + key)
            walk(child, f"{path}{key}.")

    walk(schema(), "")
    assert undescribed == []
    assert open_objects == []
