"""Fixtures: the emulated API server with the operator process running against it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.emulator import EmulatorThread
from support.harness import EmulatedCluster, OperatorProcess, emulated_crds, kubeconfig


@pytest.fixture
def cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[EmulatedCluster]:
    with EmulatorThread(emulated_crds()) as server:
        config = kubeconfig(server.url)
        path = tmp_path / "kubeconfig"
        path.write_text(json.dumps(config))
        operator = OperatorProcess(path, tmp_path / "operator.log")
        operator.start()
        try:
            yield EmulatedCluster(server, config, operator)
        finally:
            operator.stop()
            if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
                print(operator.log.read_text()[-20000:])


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
