"""Manifest builders: pure functions from a typed spec to the objects the operator owns.

No I/O, no Kopf, no Kubernetes client, no mutation of inputs. The operator
and `modelship render` call the two entry points below; one module per child
kind does the work.
"""

from __future__ import annotations

from typing import Any

from modelship.api.model_deployment import AutoscalingEngine, ModelDeployment, TrafficRouter
from modelship.api.retrain_job import RetrainJob
from modelship.builders import defaults
from modelship.builders.batch import build_batch_cron_job
from modelship.builders.deployment import build_deployment
from modelship.builders.drift_watch import (
    build_drift_watch_deployment,
    build_drift_watch_service,
    mirrored_drift,
)
from modelship.builders.errors import BuildError, UnresolvedModelError
from modelship.builders.grpc_route import build_grpc_route
from modelship.builders.hpa import build_hpa
from modelship.builders.http_route import build_http_route
from modelship.builders.pdb import build_pdb
from modelship.builders.prediction_gate import build_prediction_gate_job
from modelship.builders.retrain import build_retrain_cron_job, build_retrain_run_job
from modelship.builders.revision import (
    ResolvedModel,
    Revision,
    RevisionPlan,
    RolloutPlan,
    model_from_result,
    model_version,
    resolve_model,
    revision_for,
    revision_name,
    steady_plan,
)
from modelship.builders.scaled_object import build_scaled_object
from modelship.builders.service import build_client_service, build_revision_service

__all__ = [
    "BuildError",
    "ResolvedModel",
    "Revision",
    "RevisionPlan",
    "RolloutPlan",
    "UnresolvedModelError",
    "build_model_deployment_children",
    "build_retrain_job_children",
    "build_retrain_run_job",
    "model_from_result",
    "model_version",
    "resolve_model",
    "revision_for",
    "revision_name",
    "steady_plan",
]


def build_model_deployment_children(
    md: ModelDeployment, plan: RolloutPlan, fetch_image: str | None = None
) -> list[dict[str, Any]]:
    """Every object a ModelDeployment owns under this rollout plan, in a stable order.

    Per live revision (stable first) a Deployment and a Service; then the client
    Service, the PodDisruptionBudget, the autoscaler of the stable revision, the
    HTTPRoute when the Gateway API carries canary traffic (and the GRPCRoute when
    gRPC parents are given), the drift-watch Deployment and Service when the routes mirror
    live traffic to it (on the stable revision's model), the canary's prediction gate Job
    while the plan runs it, and
    one CronJob per batch job (scoring with the stable
    revision's model). `fetch_image` fetches the models (with their credentials) where
    given, the serving image where not.
    """
    stable = plan.stable.revision
    children: list[dict[str, Any]] = []
    for live in plan.live:
        children.append(build_deployment(md, live, fetch_image))
        children.append(build_revision_service(md, live.revision))
    children.append(build_client_service(md, plan))
    children.append(build_pdb(md))
    autoscaling = md.spec.autoscaling
    if autoscaling is not None and autoscaling.engine == AutoscalingEngine.HPA:
        children.append(build_hpa(md, autoscaling, stable))
    elif autoscaling is not None:
        children.append(build_scaled_object(md, autoscaling, stable))
    canary = defaults.canary_settings(md.spec.rollout)
    if canary is not None and canary.traffic.router == TrafficRouter.GATEWAY_API:
        children.append(build_http_route(md, canary, plan))
        if canary.traffic.grpc_parent_refs:
            children.append(build_grpc_route(md, canary.traffic.grpc_parent_refs, plan))
    mirrored = mirrored_drift(md)
    if mirrored is not None:
        drift, _ = mirrored
        children.append(build_drift_watch_deployment(md, drift, stable, fetch_image))
        children.append(build_drift_watch_service(md))
    if plan.prediction_gate and plan.canary is not None and canary and canary.prediction_gate:
        gate, candidate = canary.prediction_gate, plan.canary.revision
        children.append(build_prediction_gate_job(md, gate, stable, candidate, fetch_image))
    children.extend(build_batch_cron_job(md, job, stable, fetch_image) for job in md.spec.batch)
    return children


def build_retrain_job_children(rtj: RetrainJob, run: str = "run") -> list[dict[str, Any]]:
    """A CronJob when the RetrainJob has a schedule, else the Job of its one run (`run`
    names it: `<retrainjob>-<run>`)."""
    if rtj.spec.schedule is not None:
        return [build_retrain_cron_job(rtj)]
    return [build_retrain_run_job(rtj, run)]
