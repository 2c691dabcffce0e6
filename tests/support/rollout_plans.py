"""Rollout plans for the builder tests: a ModelDeployment's stable revision alone, or
weighted against a canary, each a version of its model as ONNX under s3://models/."""

from __future__ import annotations

from modelship.api import ModelDeployment
from modelship.api.model_deployment import ModelFormat
from modelship.builders import ResolvedModel, RevisionPlan, RolloutPlan, revision_for


def resolved_model(md: ModelDeployment, version: str) -> ResolvedModel:
    """`version` of md's model, as the operator resolves it."""
    name = md.spec.model.name
    uri = f"s3://models/{name}/{version}"
    return ResolvedModel(name=name, version=version, uri=uri, format=ModelFormat.ONNX)


def rollout_plan(
    md: ModelDeployment, canary_weight: int | None = None, versions: tuple[str, str] = ("3", "4")
) -> RolloutPlan:
    """The stable revision (first version, 2 replicas) alone when canary_weight is None, else
    weighted 100 - canary_weight against a canary of the second version (1 replica)."""
    stable_model, canary_model = (resolved_model(md, version) for version in versions)
    if canary_weight is None:
        return RolloutPlan(stable=RevisionPlan(revision_for(md, stable_model), replicas=2))
    return RolloutPlan(
        stable=RevisionPlan(revision_for(md, stable_model), replicas=2, weight=100 - canary_weight),
        canary=RevisionPlan(revision_for(md, canary_model), replicas=1, weight=canary_weight),
    )
