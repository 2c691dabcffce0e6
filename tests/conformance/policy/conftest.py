"""Fixtures of the admission policy replay: the chart's policies rendered by the real helm,
the CRDs they guard, and the offline evaluators they are checked with.

The replays live in sibling folders' modules; pytest runs with --import-mode=importlib, so
they are loaded from their files here.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
CHART = REPO / "charts" / "modelship"
# What a Kubernetes 1.30+ API server says it serves, as `helm install` learns it.
SERVED = "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy"


def _load(path: Path) -> ModuleType:
    module_name = f"modelship_conformance_policy_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


UPSTREAM_CRD = _load(HERE.parent / "upstream" / "upstream_crd.py")
CEL_COST = _load(HERE.parent / "cel" / "cel_cost.py")
ADMISSION_REPLAY = _load(HERE / "admission_replay.py")


@pytest.fixture(scope="session")
def replay() -> Any:
    return ADMISSION_REPLAY.Replay(
        evaluate=UPSTREAM_CRD.evaluate,
        to_cel=UPSTREAM_CRD.to_cel,
        apply_defaults=UPSTREAM_CRD.apply_defaults,
    )


@pytest.fixture(scope="session")
def admission() -> ModuleType:
    return ADMISSION_REPLAY


@pytest.fixture(scope="session")
def cel_cost() -> ModuleType:
    return CEL_COST


@pytest.fixture(scope="session")
def crd_schemas() -> dict[str, dict[str, Any]]:
    """openAPIV3Schema of each modelship CRD, by plural."""
    schemas = {}
    for path in sorted((REPO / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        (version,) = crd["spec"]["versions"]
        schemas[crd["spec"]["names"]["plural"]] = version["schema"]["openAPIV3Schema"]
    return schemas


def _helm() -> str:
    local = REPO / ".tools" / "bin" / "helm"
    found = str(local) if local.is_file() else shutil.which("helm")
    if found is None:
        pytest.skip("helm is not installed: run hack/install-helm.sh (hack/setup.sh does)")
    return found


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
            [_helm(), "template", "modelship", str(CHART), "-n", "modelship-system",
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
