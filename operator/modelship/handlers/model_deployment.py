"""Reconcile one ModelDeployment: what its gather reads; the loop is the shared executor's."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from modelship.api.model_deployment import KIND, ModelDeployment, ModelDeploymentStatus
from modelship.api.model_deployment_status import RequestCounters
from modelship.api.rollout import MetricsProviderType, RolloutStrategy
from modelship.builders.defaults import canary_settings
from modelship.core.names import COMPARE_CONTAINER, COMPONENT, JOB_NAME_LABEL, PREDICTION_GATE
from modelship.core.objects import Ref, Refusal, terminated, true_condition
from modelship.handlers import executor
from modelship.handlers.drift_watch_metrics import read_live_drift
from modelship.handlers.indexes import Indexes
from modelship.handlers.prometheus_metrics import query_revisions
from modelship.handlers.runtime import Runtime
from modelship.handlers.triton_metrics import scrape_revisions
from modelship.reconcile.batch import exit_of, exits_wanted
from modelship.reconcile.drift import runs_to_judge, termination_message
from modelship.reconcile.model_deployment import Observed, decide, parse
from modelship.reconcile.parsing import lenient
from modelship.reconcile.rollout import GateRun


async def gather(body: Mapping[str, Any], indexes: Indexes, runtime: Runtime) -> Observed:
    """Children, batch runs, Triton pods and the RetrainJob followed, all from the indexes.

    Pods of batch Jobs are read only for a Job that failed since the status last recorded
    one, and, with drift monitoring, for a Job that completed since the last drift check
    (its drift summary); the drift-watch pods while their Deployment exists (why one cannot
    start shows on them), and its metrics only when a live check is due. Secrets are never
    read: a missing one shows on the Triton pods.
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
    spec = parse(body)
    failed, summarized = _batch_pods_wanted(body, spec, batch_runs)
    pods = indexes.all_of(indexes.server_pods, (namespace, meta["name"]))
    now = executor.now()
    previous_drift = lenient(ModelDeploymentStatus, body.get("status")).drift
    ready_since, live_drift = await read_live_drift(runtime, spec, children, previous_drift, now)
    return Observed(
        body=body,
        children=children,
        now=now,
        retrain_job=retrain_job,
        pods=pods,
        batch_runs=batch_runs,
        batch_exits=await _from_pods(runtime, namespace, failed, exit_of),
        batch_drift=await _from_pods(runtime, namespace, summarized, termination_message),
        spec=spec,
        fetch_image=runtime.fetch_image,
        metrics=await _canary_metrics(spec, pods, _canary_revisions(body)),
        gate_runs=await _gate_runs(runtime, namespace, children),
        drift_watch_ready_since=ready_since,
        live_drift=live_drift,
    )


async def _canary_metrics(
    spec: ModelDeployment | ValidationError, pods: Sequence[Mapping[str, Any]], revisions: list[str]
) -> dict[str, RequestCounters]:
    """The revisions' counters from the provider the analysis names: the pods, or Prometheus."""
    if not revisions or isinstance(spec, ValidationError):
        return {}
    settings = canary_settings(spec.spec.rollout)
    provider = settings.analysis.provider if settings is not None else None
    if provider is not None and provider.type == MetricsProviderType.PROMETHEUS and provider.url:
        return await query_revisions(provider.url, spec.metadata.namespace, revisions)
    return await scrape_revisions(pods, revisions)


def _canary_revisions(body: Mapping[str, Any]) -> list[str]:
    """The stable and canary revisions while a canary runs: the ones its analysis measures."""
    status = body.get("status") or {}
    stable, canary = status.get("stable") or {}, status.get("canary") or {}
    rollout = (body.get("spec") or {}).get("rollout") or {}
    if rollout.get("strategy") != RolloutStrategy.CANARY:
        return []
    if "name" not in stable or "name" not in canary:
        return []
    return [stable["name"], canary["name"]]


def _with_conflicts(observed: Observed, conflicts: frozenset[Ref]) -> Observed:
    return dataclasses.replace(observed, conflicts=conflicts)


def _with_refusal(observed: Observed, refusal: Refusal) -> Observed:
    return dataclasses.replace(observed, refused=refusal)


RECONCILER = executor.KindReconciler(
    KIND,
    gather,
    decide,
    _with_conflicts,
    _with_refusal,
    by_uid=lambda found: found.model_deployments,
)
reconcile = RECONCILER.reconcile
reconcile_on_event = RECONCILER.reconcile_on_event


def _batch_pods_wanted(
    body: Mapping[str, Any],
    spec: ModelDeployment | ValidationError,
    runs: list[dict[str, Any]],
) -> tuple[list[str], list[str]]:
    """The batch Jobs whose pods to read, against the status last written: those failed
    since (how they ended), and those completed since the last drift check (their summary)."""
    if isinstance(spec, ValidationError):
        return [], []  # decide reports it
    previous = lenient(ModelDeploymentStatus, body.get("status"))
    judged = runs_to_judge(spec, previous.drift, runs)
    return exits_wanted(spec, previous.batch, runs), [run.job for run in judged]


async def _from_pods(
    runtime: Runtime,
    namespace: str,
    jobs: list[str],
    read: Callable[[Mapping[str, Any]], str | None],
) -> dict[str, str]:
    """What ``read`` finds on the pods of each Job: how a newly failed batch Job's score
    container ended (reconcile.batch.exit_of), or a completed one's drift summary. Of a
    sharded run's pods only the one that published leaves a summary: a pod that found
    something wins over one that ended with an empty message."""
    found: dict[str, str] = {}
    for job in jobs:
        for pod in await runtime.kube.list("v1", "Pod", namespace, {JOB_NAME_LABEL: job}):
            if (value := read(pod)) is not None and (value or not found.get(job)):
                found[job] = value
    return found


async def _gate_runs(
    runtime: Runtime, namespace: str, children: Sequence[Mapping[str, Any]]
) -> dict[str, GateRun]:
    """How each finished prediction gate Job ended: its compare container's termination
    message, read from its pods (a running Job's pods are not read)."""
    runs: dict[str, GateRun] = {}
    for job in children:
        meta = job["metadata"]
        if job["kind"] != "Job" or meta.get("labels", {}).get(COMPONENT) != PREDICTION_GATE:
            continue
        succeeded = _job_ended(job)
        if succeeded is None:
            continue
        messages = [
            (ended.get("exitCode") == 0, ended.get("message") or "")
            for pod in await runtime.kube.list(
                "v1", "Pod", namespace, {JOB_NAME_LABEL: meta["name"]}
            )
            if (ended := terminated(pod, COMPARE_CONTAINER)) is not None
        ]
        # A succeeded Job's measuring pod; a failed one's last words, else the Job's own
        # (a deadline passed, the model could not be fetched).
        chosen = [text for ok, text in messages if ok == succeeded] or [_why_failed(job)]
        runs[meta["name"]] = GateRun(succeeded, chosen[-1])
    return runs


def _job_ended(job: Mapping[str, Any]) -> bool | None:
    """True: the Job succeeded; False: it failed; None: it runs."""
    status = job.get("status") or {}
    if status.get("succeeded"):
        return True
    return False if true_condition(job, "Failed") is not None else None


def _why_failed(job: Mapping[str, Any]) -> str:
    failed = true_condition(job, "Failed") or {}
    return ": ".join(str(failed[key]) for key in ("reason", "message") if failed.get(key))
