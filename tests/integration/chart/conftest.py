"""Makes the operator's emulator, harness and scenarios, and this folder's harness,
importable; runs every test here with the chart rendered by Helm 4 and by Helm 3."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "operator"))
sys.path.insert(0, str(HERE))


@pytest.fixture(autouse=True, params=["helm", "helm3"])
def helm_binary(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    import chart_harness

    binary: str = request.param
    monkeypatch.setattr(chart_harness, "HELM", binary)
    return binary
