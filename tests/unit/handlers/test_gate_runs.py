"""How gather reads a finished prediction gate Job: the compare container's termination
message from the Job's pods, or, where none ended with one, why the Job failed; a Job that
still runs, and any other Job, is not read at all."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from modelship.handlers.model_deployment import _gate_runs
from modelship.reconcile.rollout import GateRun

GATE_LABELS = {"app.kubernetes.io/component": "prediction-gate"}


def job(name: str, status: dict[str, Any], labels: dict[str, str] = GATE_LABELS) -> Any:
    return {"kind": "Job", "metadata": {"name": name, "labels": labels}, "status": status}


def pod(exit_code: int, message: str, container: str = "compare") -> dict[str, Any]:
    state = {"terminated": {"exitCode": exit_code, "message": message}}
    return {"status": {"containerStatuses": [{"name": container, "state": state}]}}


@dataclass
class Kube:
    pods: dict[str, list[dict[str, Any]]]  # by Job name
    asked: list[str] = field(default_factory=list)

    async def list(self, version: str, kind: str, namespace: str, labels: dict[str, str]) -> Any:
        name = labels["batch.kubernetes.io/job-name"]
        self.asked.append(name)
        return self.pods.get(name, [])


@dataclass
class Runtime:
    kube: Kube


FAILED = {"conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
                          "message": "Job was active longer than specified deadline"}]}  # fmt: skip


def test_finished_gate_jobs_are_read_and_others_are_not() -> None:
    kube = Kube(
        {
            "passed": [pod(1, '{"error": "not ready"}'), pod(0, '{"verdict": "passed"}')],
            "broken": [pod(1, '{"error": "no answer"}'), pod(0, "", container="fetch")],
            "late": [],
        }
    )
    children = [
        job("passed", {"succeeded": 1}),
        job("broken", {"failed": 2, "conditions": [{"type": "Failed", "status": "True"}]}),
        job("late", FAILED),
        job("running", {"active": 1}),
        job("batch-run", {"succeeded": 1}, labels={"app.kubernetes.io/component": "batch"}),
    ]
    runs = asyncio.run(_gate_runs(Runtime(kube), "ml", children))  # type: ignore[arg-type]
    assert runs == {
        "passed": GateRun(True, '{"verdict": "passed"}'),
        "broken": GateRun(False, '{"error": "no answer"}'),
        "late": GateRun(False, "DeadlineExceeded: Job was active longer than specified deadline"),
    }
    assert kube.asked == ["passed", "broken", "late"]
