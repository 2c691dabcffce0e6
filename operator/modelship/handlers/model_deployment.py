"""Reconcile one ModelDeployment: gather, decide, act, then write the status once."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from modelship.api.model_deployment import KIND, ModelDeployment, ModelDeploymentStatus
from modelship.core.names import JOB_NAME_LABEL
from modelship.handlers import metrics
from modelship.handlers.indexes import Indexes
from modelship.handlers.runtime import Runtime, post, retryable
from modelship.kube.apply import apply
from modelship.kube.errors import KubeError
from modelship.reconcile.batch import exit_of, exits_wanted
from modelship.reconcile.model_deployment import Observed, decide
from modelship.reconcile.parsing import lenient


async def reconcile(
    body: Mapping[str, Any],
    indexes: Indexes,
    runtime: Runtime,
    trigger: str,
    logger: logging.Logger | logging.LoggerAdapter[Any],
) -> None:
    meta = body["metadata"]
    if meta.get("deletionTimestamp"):
        return  # the garbage collector takes the children with it
    async with runtime.locks[meta["uid"]]:
        metrics.RECONCILES.labels(KIND, trigger).inc()
        with metrics.RECONCILE_SECONDS.labels(KIND).time():
            try:
                observed = await gather(body, indexes, runtime)
                decision = decide(observed)
                applied = await apply(runtime.kube, decision.actions, meta["uid"])
                runtime.remember(meta["uid"], applied)
                if applied.conflicts:
                    conflicts = frozenset(applied.conflicts)
                    decision = decide(dataclasses.replace(observed, conflicts=conflicts))
                post(body, applied, decision.events, logger)
                await runtime.write_status(body, decision.status, decision.status_patch)
            except KubeError as error:
                raise retryable(error, KIND) from error


async def gather(body: Mapping[str, Any], indexes: Indexes, runtime: Runtime) -> Observed:
    """Children, batch runs, Triton pods and the RetrainJob followed, all from the indexes.

    Pods of batch Jobs are read only for a Job that failed since the status last recorded
    one. Secrets are never read: a missing one shows on the Triton pods.
    """
    meta = body["metadata"]
    model = (body.get("spec") or {}).get("model") or {}
    namespace = meta["namespace"]
    retrain_job = None
    if isinstance(name := model.get("fromRetrainJob"), str):
        retrain_job = indexes.first(indexes.retrain_jobs_by_name, (namespace, name))
    children = runtime.with_created(meta["uid"], indexes.children_of(meta["uid"]))
    batch_runs = [
        run
        for child in children
        if child["kind"] == "CronJob" and "uid" in child["metadata"]
        for run in indexes.children_of(child["metadata"]["uid"])
    ]
    return Observed(
        body=body,
        children=children,
        now=datetime.now(UTC).replace(microsecond=0),
        retrain_job=retrain_job,
        pods=indexes.all_of(indexes.server_pods, (namespace, meta["name"])),
        batch_runs=batch_runs,
        batch_exits=await _exits(runtime, namespace, _exits_wanted(body, batch_runs)),
    )


def _exits_wanted(body: Mapping[str, Any], runs: list[dict[str, Any]]) -> list[str]:
    try:
        md = ModelDeployment.model_validate(
            {"metadata": body["metadata"], "spec": body.get("spec", {})}
        )
    except ValidationError:
        return []  # decide reports it
    previous = lenient(ModelDeploymentStatus, body.get("status"))
    return exits_wanted(md, previous.batch, runs)


async def _exits(runtime: Runtime, namespace: str, jobs: list[str]) -> dict[str, str]:
    """How the score container ended in the pods of newly failed batch Jobs."""
    exits: dict[str, str] = {}
    for job in jobs:
        for pod in await runtime.kube.list("v1", "Pod", namespace, {JOB_NAME_LABEL: job}):
            if (how := exit_of(pod)) is not None:
                exits[job] = how
    return exits
