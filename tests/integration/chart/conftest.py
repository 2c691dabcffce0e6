"""Runs every test here with the chart rendered by Helm 4 and by Helm 3."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, params=["helm", "helm3"])
def helm_binary(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    from support import chart_harness

    binary: str = request.param
    monkeypatch.setattr(chart_harness, "HELM", binary)
    return binary
