"""Reconcile one RetrainJob: its CronJob or run Job, and the status of its runs."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from modelship.api.retrain_job import KIND
from modelship.core.names import JOB_NAME_LABEL, TRAINER_CONTAINER
from modelship.handlers import metrics
from modelship.handlers.indexes import Indexes
from modelship.handlers.runtime import Runtime, post, retryable
from modelship.kube.apply import apply
from modelship.kube.errors import KubeError
from modelship.reconcile.retrain_job import Observed, decide, results_wanted


async def reconcile(
    body: Mapping[str, Any],
    indexes: Indexes,
    runtime: Runtime,
    trigger: str,
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> None:
    meta = body["metadata"]
    if meta.get("deletionTimestamp"):
        return
    async with runtime.locks[meta["uid"]]:
        metrics.RECONCILES.labels(KIND, trigger).inc()
        with metrics.RECONCILE_SECONDS.labels(KIND).time():
            runs = indexes.all_of(indexes.runs, (meta["namespace"], meta["name"]))
            try:
                observed = Observed(
                    body=body,
                    children=runtime.with_created(meta["uid"], indexes.children_of(meta["uid"])),
                    runs=runs,
                    now=datetime.now(UTC).replace(microsecond=0),
                    results=await _results(runtime, meta["namespace"], results_wanted(body, runs)),
                )
                decision = decide(observed)
                applied = await apply(runtime.kube, decision.actions, meta["uid"])
                runtime.remember(meta["uid"], applied)
                post(body, applied, (), logger)
                await runtime.write_status(body, decision.status, decision.status_patch)
            except KubeError as error:
                raise retryable(error, KIND) from error


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
