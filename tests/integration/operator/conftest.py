"""Fixtures: the emulated API server with the operator process running against it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.emulator import EmulatorThread
from support.harness import ROOT, EmulatedCluster, OperatorProcess

# The upstream kinds the operator creates (ScaledObject, HTTPRoute, GRPCRoute), as vendored.
UPSTREAM_CRDS = ROOT / "tests" / "conformance" / "upstream" / "crds"


def _crds() -> list[dict[str, Any]]:
    paths = [*sorted((ROOT / "crds").glob("*.yaml")), *sorted(UPSTREAM_CRDS.glob("*.yaml"))]
    return [yaml.safe_load(path.read_text()) for path in paths]


@pytest.fixture
def cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[EmulatedCluster]:
    with EmulatorThread(_crds()) as server:
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "emulator",
            "clusters": [{"name": "emulator", "cluster": {"server": server.url}}],
            "users": [{"name": "emulator", "user": {"token": "unused"}}],
            "contexts": [
                {"name": "emulator", "context": {"cluster": "emulator", "user": "emulator"}}
            ],
        }
        path = tmp_path / "kubeconfig"
        path.write_text(json.dumps(kubeconfig))
        operator = OperatorProcess(path, tmp_path / "operator.log")
        operator.start()
        try:
            yield EmulatedCluster(server, kubeconfig, operator)
        finally:
            operator.stop()
            if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
                print(operator.log.read_text()[-20000:])


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
