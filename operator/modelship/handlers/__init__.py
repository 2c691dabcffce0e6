"""Kopf wiring: which events reach which reconcile, and how Kopf itself is set up.

One reconcile function per kind serves create, update, resume and a periodic
timer. A change to a child (a Deployment becoming available, a Service deleted
by hand) reconciles its owner straight away, and so does a Triton pod that
cannot start (the kubelet says why on it; the operator never reads Secrets).
Status is written on purpose by the reconcile, never through handler return values.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from modelship.api.base import GROUP, VERSION
from modelship.api.model_deployment import PLURAL as MODEL_DEPLOYMENTS
from modelship.api.retrain_job import PLURAL as RETRAIN_JOBS
from modelship.core.names import (
    BATCH_JOB,
    COMPONENT,
    DEPLOYMENT,
    MANAGED_BY,
    MANAGER,
    RETRAIN_JOB,
    SERVER,
)
from modelship.core.ownership import controller_uid
from modelship.handlers import indexes, metrics, model_deployment, retrain_job
from modelship.handlers.executor import requeue
from modelship.handlers.indexes import CHILD_RESOURCES, Indexes, child_index_id
from modelship.handlers.runtime import Runtime
from modelship.handlers.settings import OperatorSettings
from modelship.kube.client import Kube
from modelship.reconcile.pods import pod_problem
from modelship.reconcile.promotion import RETRAIN_ANNOTATION
from modelship.reconcile.rollout.commands import ROLLOUT_ANNOTATION

FINALIZER = f"{GROUP}/finalizer"
# The pods it watches: Triton's, of its own Deployments. The API server filters them.
SERVER_PODS = {MANAGED_BY: MANAGER, COMPONENT: SERVER}
ANNOTATION_PREFIX = GROUP

Logger = logging.Logger | logging.LoggerAdapter[Any]


def build_registry(settings: OperatorSettings) -> kopf.OperatorRegistry:
    """Every handler of the operator, in a registry of its own (nothing global)."""
    registry = kopf.OperatorRegistry()
    _lifecycle(registry, settings)
    _indexes(registry)
    for plural, reconcile in (
        (MODEL_DEPLOYMENTS, model_deployment.reconcile),
        (RETRAIN_JOBS, retrain_job.reconcile),
    ):
        _reconciles(registry, settings, plural, reconcile)
    _child_events(registry)
    _pod_events(registry)
    _promotions(registry)
    _deployment_news(registry)
    return registry


def kopf_settings(settings: OperatorSettings) -> kopf.OperatorSettings:
    ours = kopf.OperatorSettings()
    ours.persistence.finalizer = FINALIZER
    ours.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATION_PREFIX)
    ours.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATION_PREFIX, key="last-handled-configuration"
    )
    # Only warnings become Events by themselves; what the operator did is posted on purpose,
    # so that a quiet periodic reconcile posts nothing.
    ours.posting.level = logging.WARNING
    ours.peering.standalone = settings.peering is None
    ours.peering.name = settings.peering or "modelship"
    ours.peering.mandatory = settings.peering is not None
    ours.peering.clusterwide = not settings.namespaces
    # Kopf pauses every peer when two share a priority, so replicas draw their own
    # (OperatorSettings.peering_priority): the highest acts, the others stand by.
    ours.peering.priority = settings.peering_priority
    ours.watching.label_selectors["", "v1", "pods"] = ",".join(
        f"{key}={value}" for key, value in SERVER_PODS.items()
    )
    ours.watching.server_timeout = 600
    ours.watching.client_timeout = 660
    return ours


def _lifecycle(registry: kopf.OperatorRegistry, settings: OperatorSettings) -> None:
    @kopf.on.startup(registry=registry)
    async def start(memo: kopf.Memo, **_: Any) -> None:
        memo.runtime = Runtime(kube=Kube.from_env(), fetch_image=settings.fetch_image)
        if settings.metrics_port:
            metrics.serve(settings.metrics_address, settings.metrics_port)

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # In a pod, its service account; elsewhere $KUBECONFIG, as the kube client reads them.
        return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.cleanup(registry=registry)
    async def stop(memo: kopf.Memo, **_: Any) -> None:
        await memo.runtime.kube.close()


def _indexes(registry: kopf.OperatorRegistry) -> None:
    for group, version, plural in CHILD_RESOURCES:
        kopf.index(
            group,
            version,
            plural,
            id=child_index_id(plural),
            labels={MANAGED_BY: MANAGER},
            registry=registry,
        )(indexes.by_controller)
    for plural in (MODEL_DEPLOYMENTS, RETRAIN_JOBS):
        kopf.index(GROUP, VERSION, plural, id=f"{plural}_by_uid", registry=registry)(indexes.by_uid)
    for plural in (MODEL_DEPLOYMENTS, RETRAIN_JOBS):
        kopf.index(GROUP, VERSION, plural, id=f"{plural}_by_name", registry=registry)(
            indexes.by_name
        )
    kopf.index(
        GROUP, VERSION, MODEL_DEPLOYMENTS, id="modeldeployments_by_retrain_job", registry=registry
    )(indexes.by_followed_retrain_job)
    kopf.index(
        "", "v1", "pods", id="pods_by_model_deployment", labels=SERVER_PODS, registry=registry
    )(indexes.by_model_deployment)
    kopf.index(
        "batch",
        "v1",
        "jobs",
        id="jobs_by_retrain_job",
        labels={RETRAIN_JOB: kopf.PRESENT},
        registry=registry,
    )(indexes.by_retrain_job)


def _reconciles(
    registry: kopf.OperatorRegistry, settings: OperatorSettings, plural: str, reconcile: Any
) -> None:
    async def on_change(
        body: kopf.Body, memo: kopf.Memo, logger: Logger, reason: str, **kwargs: Any
    ) -> None:
        found = Indexes.of(kwargs)
        requeue(await reconcile(body, found, memo.runtime, reason or "resume", logger))

    async def on_timer(body: kopf.Body, memo: kopf.Memo, logger: Logger, **kwargs: Any) -> None:
        metrics.MANAGED.labels(body["kind"]).set(len(kwargs[f"{plural}_by_uid"]))
        requeue(await reconcile(body, Indexes.of(kwargs), memo.runtime, "timer", logger))

    kopf.on.resume(GROUP, VERSION, plural, id=f"{plural}-resume", registry=registry)(on_change)
    kopf.on.create(GROUP, VERSION, plural, id=f"{plural}-create", registry=registry)(on_change)
    kopf.on.update(GROUP, VERSION, plural, id=f"{plural}-update", field="spec", registry=registry)(
        on_change
    )
    # A person's command (kubectl modelship) is an annotation, not spec: a rollout command
    # on a ModelDeployment, approve or reject on a RetrainJob.
    kopf.on.update(
        GROUP,
        VERSION,
        plural,
        id=f"{plural}-command",
        field=(
            "metadata",
            "annotations",
            ROLLOUT_ANNOTATION if plural == MODEL_DEPLOYMENTS else RETRAIN_ANNOTATION,
        ),
        registry=registry,
    )(on_change)
    kopf.timer(
        GROUP,
        VERSION,
        plural,
        id=f"{plural}-resync",
        interval=settings.resync_interval,
        initial_delay=settings.resync_interval,
        registry=registry,
    )(on_timer)

    @kopf.on.delete(GROUP, VERSION, plural, id=f"{plural}-forget", optional=True, registry=registry)
    async def forget(uid: str, memo: kopf.Memo, **_: Any) -> None:
        memo.runtime.forget(uid)

    # Its metrics go when the object is really gone (the watch's DELETED event), which comes
    # also for an object no finalizer held, where no delete handler runs.
    @kopf.on.event(GROUP, VERSION, plural, id=f"{plural}-gone", registry=registry)
    async def gone(body: kopf.Body, type: str | None, **_: Any) -> None:
        if type == "DELETED":
            metrics.forget(body)


def _child_events(registry: kopf.OperatorRegistry) -> None:
    """A child changed or went away: reconcile its owner now rather than at the next resync."""

    async def on_child_event(
        body: kopf.Body, type: str | None, memo: kopf.Memo, logger: Logger, **kwargs: Any
    ) -> None:
        uid = controller_uid(body) or ""
        memo.runtime.seen(uid, body)
        if type not in ("MODIFIED", "DELETED"):
            return  # our own creations, and the listing at start (resume covers it)
        found = Indexes.of(kwargs)
        meta = body.get("metadata", {})
        labels = meta.get("labels", {})
        # A batch run is its CronJob's; its ModelDeployment records how the run ended.
        named = (meta.get("namespace"), labels.get(DEPLOYMENT)) if BATCH_JOB in labels else None
        owner = found.first(found.model_deployments, uid) or found.first(
            found.model_deployments_by_name, named
        )
        if owner:
            await model_deployment.reconcile_on_event(owner, found, memo.runtime, "child", logger)
            return
        key = (meta.get("namespace"), labels.get(RETRAIN_JOB))
        owner = found.first(found.retrain_jobs, uid) or found.first(found.retrain_jobs_by_name, key)
        if owner:
            await retrain_job.reconcile_on_event(owner, found, memo.runtime, "child", logger)

    for group, version, plural in CHILD_RESOURCES:
        kopf.on.event(
            group,
            version,
            plural,
            id=f"{plural}-changed",
            labels={MANAGED_BY: MANAGER},
            registry=registry,
        )(on_child_event)


def _pod_events(registry: kopf.OperatorRegistry) -> None:
    """A Triton pod that cannot start: its ModelDeployment says why now, not at the next resync."""

    @kopf.on.event("", "v1", "pods", id="pods-stuck", labels=SERVER_PODS, registry=registry)
    async def on_pod_event(
        body: kopf.Body,
        type: str | None,
        namespace: str | None,
        labels: kopf.Labels,
        memo: kopf.Memo,
        logger: Logger,
        **kwargs: Any,
    ) -> None:
        if type not in ("ADDED", "MODIFIED") or pod_problem(body, namespace or "") is None:
            return  # a pod that starts shows on its Deployment, which reconciles the owner
        found = Indexes.of(kwargs)
        owner = found.first(found.model_deployments_by_name, (namespace, labels.get(DEPLOYMENT)))
        if owner:
            await model_deployment.reconcile_on_event(owner, found, memo.runtime, "pod", logger)


def _promotions(registry: kopf.OperatorRegistry) -> None:
    """A RetrainJob promoted a model: its followers roll it out now, not at the next resync."""

    @kopf.on.field(
        GROUP, VERSION, RETRAIN_JOBS, id="promoted", field="status.promoted", registry=registry
    )
    async def on_promoted(
        namespace: str | None, name: str, memo: kopf.Memo, logger: Logger, **kwargs: Any
    ) -> None:
        found = Indexes.of(kwargs)
        for follower in found.all_of(found.followers, (namespace, name)):
            await model_deployment.reconcile_on_event(
                follower, found, memo.runtime, "promoted", logger
            )


def _deployment_news(registry: kopf.OperatorRegistry) -> None:
    """A ModelDeployment's drift or revision history changed: the RetrainJobs it concerns
    (the one it drives by drift, the one it follows and may have rolled back) look now."""

    async def on_news(
        body: kopf.Body, namespace: str | None, memo: kopf.Memo, logger: Logger, **kwargs: Any
    ) -> None:
        found = Indexes.of(kwargs)
        spec = body.get("spec") or {}
        drift = (spec.get("monitoring") or {}).get("drift") or {}
        named = {(spec.get("model") or {}).get("fromRetrainJob"), drift.get("retrainJob")}
        targeting = body["metadata"]["name"]
        for (ns, name), bodies in found.retrain_jobs_by_name.items():
            for rtj in bodies:
                wanted = (
                    name in named or (rtj.get("spec") or {}).get("modelDeployment") == targeting
                )
                if ns == namespace and wanted:
                    await retrain_job.reconcile_on_event(
                        rtj, found, memo.runtime, "deployment", logger
                    )

    for field in ("status.drift", "status.history"):
        kopf.on.field(
            GROUP, VERSION, MODEL_DEPLOYMENTS, id=f"news-{field}", field=field, registry=registry
        )(on_news)
