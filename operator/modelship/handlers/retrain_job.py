"""Reconcile one RetrainJob: what its gather reads; the loop is the shared executor's."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from modelship.api.retrain_job import KIND
from modelship.core.names import EVALUATE_CONTAINER, JOB_NAME_LABEL, TRAINER_CONTAINER
from modelship.core.objects import Refusal, terminated
from modelship.handlers import executor
from modelship.handlers.indexes import Indexes
from modelship.handlers.runtime import Runtime
from modelship.reconcile.retrain_job import Observed, decide
from modelship.reconcile.retrain_runs import reports_wanted, results_wanted


async def gather(body: Mapping[str, Any], indexes: Indexes, runtime: Runtime) -> Observed:
    """Its CronJob or Job, the Jobs of its runs and validations, the result of each newly
    finished run and validation, the ModelDeployment it retrains and those following it."""
    meta = body["metadata"]
    namespace = meta["namespace"]
    runs = indexes.all_of(indexes.runs, (namespace, meta["name"]))
    target = (body.get("spec") or {}).get("modelDeployment")
    return Observed(
        body=body,
        children=runtime.with_created(meta["uid"], indexes.children_of(meta["uid"])),
        runs=runs,
        now=executor.now(),
        results=await _results(runtime, namespace, results_wanted(body, runs), TRAINER_CONTAINER),
        reports=await _results(runtime, namespace, reports_wanted(body, runs), EVALUATE_CONTAINER),
        target=indexes.first(indexes.model_deployments_by_name, (namespace, target)),
        followers=indexes.all_of(indexes.followers, (namespace, meta["name"])),
    )


def _with_refusal(observed: Observed, refusal: Refusal) -> Observed:
    return dataclasses.replace(observed, refused=refusal)


RECONCILER = executor.KindReconciler(
    KIND, gather, decide, with_refusal=_with_refusal, by_uid=lambda found: found.retrain_jobs
)
reconcile = RECONCILER.reconcile
reconcile_on_event = RECONCILER.reconcile_on_event


async def _results(
    runtime: Runtime, namespace: str, runs: list[str], container_name: str
) -> dict[str, str]:
    """The termination message of `container_name` in each finished Job, read from its pods."""
    results: dict[str, str] = {}
    for run in runs:
        for pod in await runtime.kube.list("v1", "Pod", namespace, {JOB_NAME_LABEL: run}):
            ended = terminated(pod, container_name) or {}
            if ended.get("exitCode") == 0:
                results[run] = ended.get("message") or ""
    return results
