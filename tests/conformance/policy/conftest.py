"""Fixtures of the admission policy replay: the chart's policies rendered by the real helm,
the CRDs they guard, and the offline evaluators they are checked with (tests/support)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import admission_replay, upstream_crd
from support.helm import find_helm

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "modelship"
# What a Kubernetes 1.30+ API server says it serves, as `helm install` learns it.
SERVED = "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy"


@pytest.fixture(scope="session")
def replay() -> Any:
    return admission_replay.Replay(
        evaluate=upstream_crd.evaluate,
        to_cel=upstream_crd.to_cel,
        apply_defaults=upstream_crd.apply_defaults,
    )


@pytest.fixture(scope="session")
def crd_schemas() -> dict[str, dict[str, Any]]:
    """openAPIV3Schema of each modelship CRD, by plural."""
    schemas = {}
    for path in sorted((REPO / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        (version,) = crd["spec"]["versions"]
        schemas[crd["spec"]["names"]["plural"]] = version["schema"]["openAPIV3Schema"]
    return schemas


@pytest.fixture(scope="session")
def render_policy(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Renders the chart with the admission policy on and the given `policy` values; the
    policy and binding of each guarded resource, by plural."""

    def _render(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
        values = tmp_path_factory.mktemp("policy") / "values.yaml"
        values.write_text(
            yaml.safe_dump(
                {
                    "policy": {
                        **policy,
                        "admission": {"enabled": True, **policy.get("admission", {})},
                    }
                }
            )
        )
        printed = subprocess.run(
            [find_helm(), "template", "modelship", str(CHART), "-n", "modelship-system",
             "--values", str(values), "--api-versions", SERVED,
             "--show-only", "templates/admission-policy.yaml"],
            check=True, capture_output=True, text=True, timeout=60,
        ).stdout  # fmt: skip
        objects = [obj for obj in yaml.safe_load_all(printed) if obj]
        rendered: dict[str, dict[str, Any]] = {}
        for obj in objects:
            if obj["kind"] == "ValidatingAdmissionPolicy":
                (rule,) = obj["spec"]["matchConstraints"]["resourceRules"]
                (plural,) = rule["resources"]
                rendered.setdefault(plural, {})["policy"] = obj
        for obj in objects:
            if obj["kind"] == "ValidatingAdmissionPolicyBinding":
                for entry in rendered.values():
                    if entry["policy"]["metadata"]["name"] == obj["spec"]["policyName"]:
                        entry["binding"] = obj
        return rendered

    return _render
