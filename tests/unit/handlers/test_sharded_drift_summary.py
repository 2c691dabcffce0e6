"""Of a sharded batch run's pods only the one that published the output leaves a drift
summary in its termination message; gather reads it whichever order the pods are listed in."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from modelship.handlers.model_deployment import _from_pods
from modelship.reconcile.drift import termination_message

SUMMARY = '{"features": []}'


def score_pod(message: str) -> dict[str, Any]:
    """A pod whose score container ended well, with the termination ``message``."""
    state = {"terminated": {"exitCode": 0, "message": message}}
    return {"status": {"containerStatuses": [{"name": "score", "state": state}]}}


@dataclass
class Kube:
    pods: list[dict[str, Any]]  # of the one Job asked for

    async def list(self, version: str, kind: str, namespace: str, labels: dict[str, str]) -> Any:
        return self.pods if labels["batch.kubernetes.io/job-name"] == "weekly-1" else []


@dataclass
class Runtime:
    kube: Kube


@pytest.mark.parametrize("publisher_first", [True, False])
def test_the_publishing_shards_summary_is_read(publisher_first: bool) -> None:
    pods = [score_pod(""), score_pod("")]
    pods.insert(0 if publisher_first else 2, score_pod(SUMMARY))
    runtime: Any = Runtime(Kube(pods))
    found = asyncio.run(_from_pods(runtime, "ml", ["weekly-1"], termination_message))
    assert found == {"weekly-1": SUMMARY}


def test_a_run_whose_pods_left_nothing_reads_as_empty() -> None:
    runtime: Any = Runtime(Kube([score_pod(""), score_pod("")]))
    found = asyncio.run(_from_pods(runtime, "ml", ["weekly-1"], termination_message))
    assert found == {"weekly-1": ""}
