"""What a revision serves, what it is called, and which revisions a rollout keeps live.

A revision is identified by the model's identity only: (uri, version, sha256,
format). A new version or uri makes a new revision; serving changes (replicas,
resources, GPU, args) patch the running revision's Deployment in place.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from modelship.api.common import Lineage
from modelship.api.model_deployment import ModelDeployment, ModelFormat
from modelship.api.retrain_job import RetrainJob, TrainerResult
from modelship.builders.errors import UnresolvedModelError
from modelship.builders.names import child_name

# Hex characters of the identity digest in a revision name.
REVISION_HASH_LENGTH = 10


@dataclass(frozen=True)
class ResolvedModel:
    """The model one revision serves, with its provenance."""

    name: str
    version: str
    uri: str
    format: ModelFormat
    sha256: str | None = None
    credentials_secret: str | None = None
    lineage: Lineage | None = None

    @property
    def identity(self) -> tuple[str, str, str | None, str]:
        """What makes two models the same revision."""
        return (self.uri, self.version, self.sha256, self.format.value)


@dataclass(frozen=True)
class Revision:
    """A named revision of a ModelDeployment and the model it serves."""

    name: str
    model: ResolvedModel


@dataclass(frozen=True)
class RevisionPlan:
    """One live revision: how many pods it runs and what share of traffic it gets."""

    revision: Revision
    # None: an autoscaler (HPA or KEDA) owns the replica count.
    replicas: int | None
    # Share of traffic relative to the other live revision, as HTTPRoute backend
    # weights are (e.g. stable 90, canary 10). The replicas router ignores it.
    weight: int = 100


@dataclass(frozen=True)
class RolloutPlan:
    """The revisions that should be live: the stable one, and a canary while one rolls out."""

    stable: RevisionPlan
    canary: RevisionPlan | None = None
    # The canary's prediction gate Job runs (canary.predictionGate, before any traffic).
    prediction_gate: bool = False

    @property
    def live(self) -> list[RevisionPlan]:
        """Stable first, then the canary."""
        return [self.stable] if self.canary is None else [self.stable, self.canary]


def revision_name(deployment_name: str, model: ResolvedModel) -> str:
    """`<deployment>-<10 hex of sha256(identity)>`, a DNS-1035 label of at most 63 chars."""
    digest = hashlib.sha256(json.dumps(model.identity).encode()).hexdigest()
    return child_name(deployment_name, digest[:REVISION_HASH_LENGTH])


def revision_for(md: ModelDeployment, model: ResolvedModel) -> Revision:
    return Revision(name=revision_name(md.metadata.name, model), model=model)


def resolve_model(md: ModelDeployment, retrain_job: RetrainJob | None = None) -> ResolvedModel:
    """The model `md` asks for: from its spec, or from the RetrainJob it follows.

    Raises UnresolvedModelError when `spec.model.fromRetrainJob` names a
    RetrainJob that is not given or has promoted nothing yet.
    """
    source = md.spec.model
    if source.uri is not None and source.version is not None:
        return model_version(md, source.version, source.uri, source.sha256, source.lineage)
    wanted = source.from_retrain_job
    if retrain_job is None or retrain_job.metadata.name != wanted:
        raise UnresolvedModelError(f'RetrainJob "{wanted}" is not known')
    promoted = retrain_job.status.promoted if retrain_job.status is not None else None
    if promoted is None:
        raise UnresolvedModelError(f'RetrainJob "{wanted}" has not promoted a model yet')
    return model_from_result(md, promoted, retrain_job)


def model_from_result(
    md: ModelDeployment, result: TrainerResult, retrain_job: RetrainJob | None = None
) -> ResolvedModel:
    """The model a RetrainJob's (promoted) result stands for, with its data as lineage."""
    # What the RetrainJob recorded when it promoted the result (code ref, parameters, data);
    # a result promoted by hand has none, so the RetrainJob's data stands in.
    lineage = result.lineage
    if lineage is None and retrain_job is not None:
        data = retrain_job.spec.data
        lineage = Lineage(data_version=data.version, data_uri=data.uri)
    return model_version(md, result.version, result.uri, result.sha256, lineage)


def model_version(
    md: ModelDeployment, version: str, uri: str, sha256: str | None, lineage: Lineage | None
) -> ResolvedModel:
    """A version of the model `md` serves: the name, format and credentials Secret of its
    `spec.model`, at ``uri``."""
    source = md.spec.model
    return ResolvedModel(
        name=source.name,
        version=version,
        uri=uri,
        format=source.format,
        sha256=sha256,
        credentials_secret=source.credentials_secret,
        lineage=lineage,
    )


def steady_plan(md: ModelDeployment, model: ResolvedModel) -> RolloutPlan:
    """One revision serving all traffic: what the operator converges to, and what render shows."""
    replicas = None if md.spec.autoscaling is not None else md.spec.serving.replicas
    return RolloutPlan(stable=RevisionPlan(revision_for(md, model), replicas=replicas))
