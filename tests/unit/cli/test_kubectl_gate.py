"""`kubectl modelship status` says where the canary's prediction gate is: the Job comparing
it while it runs, what it measured once it passed."""

from __future__ import annotations

from typing import Any

import pytest
from modelship.cli.kubectl_plugin import describe


def body(gate: dict[str, Any]) -> dict[str, Any]:
    canary = {"name": "wine-2b", "version": "2", "uri": "s3://m/wine/2", "predictionGate": gate}
    return {
        "metadata": {"name": "wine", "namespace": "ml"},
        "spec": {"rollout": {"strategy": "Canary"}},
        "status": {"canary": canary},
    }


@pytest.mark.parametrize(
    ("gate", "line"),
    [
        (
            {"phase": "Running", "job": "wine-2b-gate-1a2b3c", "startedAt": "2026-01-02T03:04:05Z"},
            "Prediction gate: Running: Job wine-2b-gate-1a2b3c compares it with stable",
        ),
        (
            {"phase": "Passed", "job": "wine-2b-gate-1a2b3c", "startedAt": "2026-01-02T03:04:05Z",
             "message": "labels agree on 99.5% of 1000 rows: passed"},
            "Prediction gate: Passed: labels agree on 99.5% of 1000 rows: passed",
        ),
    ],
)  # fmt: skip
def test_status_shows_the_prediction_gate(gate: dict[str, Any], line: str) -> None:
    assert line in describe(body(gate)).splitlines()
