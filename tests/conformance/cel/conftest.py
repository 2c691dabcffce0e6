"""Fixtures of the CRD conformance checks: the checked-in CRDs and the offline replays of
the API server's CRD validation (CEL cost estimate, structural schema rules).

The replays live in sibling modules; pytest runs with --import-mode=importlib, so they
are loaded from their files here and handed to tests as fixtures.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
CRD_FOLDERS = (REPO / "crds", REPO / "charts" / "modelship" / "crds")


def _load(name: str) -> ModuleType:
    module_name = f"modelship_conformance_cel_{name}"
    spec = importlib.util.spec_from_file_location(module_name, HERE / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


CEL_COST = _load("cel_cost")
STRUCTURAL = _load("structural")


def checked_in_crds(folder: Path = CRD_FOLDERS[0]) -> dict[str, dict[str, Any]]:
    """The CRDs in a folder, by kind."""
    crds = [yaml.safe_load(path.read_text()) for path in sorted(folder.glob("*.yaml"))]
    return {crd["spec"]["names"]["kind"]: crd for crd in crds}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test taking ``checked_in_crd`` runs once per CRD file, in crds/ and in the chart."""
    if "checked_in_crd" in metafunc.fixturenames:
        params = [
            pytest.param(crd, id=f"{folder.relative_to(REPO)}/{kind}")
            for folder in CRD_FOLDERS
            for kind, crd in checked_in_crds(folder).items()
        ]
        metafunc.parametrize("checked_in_crd", params)


@pytest.fixture(scope="session")
def cel_cost() -> ModuleType:
    """The API server's CEL cost estimate (cel_cost.py)."""
    return CEL_COST


@pytest.fixture(scope="session")
def structural() -> ModuleType:
    """The API server's structural schema and CRD schema rules (structural.py)."""
    return STRUCTURAL


@pytest.fixture(scope="session")
def crds() -> dict[str, dict[str, Any]]:
    return checked_in_crds()
