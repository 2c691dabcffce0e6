"""Reconcile one ModelDeployment: gather, decide, act, then write the status once."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from modelship.api.model_deployment import KIND
from modelship.handlers import metrics
from modelship.handlers.indexes import Indexes
from modelship.handlers.runtime import Runtime, post, retryable
from modelship.kube.apply import apply
from modelship.kube.errors import KubeError
from modelship.reconcile.model_deployment import Observed, decide
from modelship.reconcile.objects import Ref


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
    """The children from the indexes; the RetrainJob followed and the credentials Secret."""
    meta = body["metadata"]
    model = (body.get("spec") or {}).get("model") or {}
    namespace = meta["namespace"]
    retrain_job = None
    if isinstance(name := model.get("fromRetrainJob"), str):
        retrain_job = indexes.first(indexes.retrain_jobs_by_name, (namespace, name))
    secret = model.get("credentialsSecret")
    missing_secret = None
    if (
        isinstance(secret, str)
        and await runtime.kube.get(Ref("v1", "Secret", namespace, secret)) is None
    ):
        missing_secret = secret
    return Observed(
        body=body,
        children=runtime.with_created(meta["uid"], indexes.children_of(meta["uid"])),
        now=datetime.now(UTC).replace(microsecond=0),
        retrain_job=retrain_job,
        missing_secret=missing_secret,
    )
