"""Reconcile one RetrainJob: what its gather reads; the loop is the shared executor's."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from modelship.api.retrain_job import KIND
from modelship.core.names import JOB_NAME_LABEL, TRAINER_CONTAINER
from modelship.core.objects import Refusal
from modelship.handlers import executor
from modelship.handlers.indexes import Indexes
from modelship.handlers.runtime import Runtime
from modelship.reconcile.retrain_job import Observed, decide, results_wanted


async def gather(body: Mapping[str, Any], indexes: Indexes, runtime: Runtime) -> Observed:
    """Its CronJob or Job, the Jobs of its runs, and the result of each newly finished run."""
    meta = body["metadata"]
    runs = indexes.all_of(indexes.runs, (meta["namespace"], meta["name"]))
    return Observed(
        body=body,
        children=runtime.with_created(meta["uid"], indexes.children_of(meta["uid"])),
        runs=runs,
        now=executor.now(),
        results=await _results(runtime, meta["namespace"], results_wanted(body, runs)),
    )


def _with_refusal(observed: Observed, refusal: Refusal) -> Observed:
    return dataclasses.replace(observed, refused=refusal)


RECONCILER = executor.KindReconciler(
    KIND, gather, decide, with_refusal=_with_refusal, by_uid=lambda found: found.retrain_jobs
)
reconcile = RECONCILER.reconcile
reconcile_on_event = RECONCILER.reconcile_on_event


async def _results(runtime: Runtime, namespace: str, runs: list[str]) -> dict[str, str]:
    """The trainer's termination message of each finished run, read from its pods."""
    results: dict[str, str] = {}
    for run in runs:
        for pod in await runtime.kube.list("v1", "Pod", namespace, {JOB_NAME_LABEL: run}):
            for container in (pod.get("status") or {}).get("containerStatuses", []):
                terminated = (container.get("state") or {}).get("terminated") or {}
                if container.get("name") == TRAINER_CONTAINER and terminated.get("exitCode") == 0:
                    results[run] = terminated.get("message") or ""
    return results
