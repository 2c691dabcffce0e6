"""Fixtures of the CRD conformance checks: the checked-in CRDs and the offline replays of
the API server's CRD validation (CEL cost estimate, structural schema rules).

The replays live in tests/support (cel_cost, structural_schema); tests import them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
CRD_FOLDERS = (REPO / "crds", REPO / "charts" / "modelship" / "crds")


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
def crds() -> dict[str, dict[str, Any]]:
    return checked_in_crds()
