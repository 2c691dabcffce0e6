"""What is watched once the model serves: data drift."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from modelship.api.base import (
    ApiModel,
    DnsLabel,
    Duration,
    ModelUri,
    Percent,
)
from modelship.api.cel import Rule

# What a drifted check leads to: alerts only, or a run of a RetrainJob as well.
DriftAction = Literal["alert", "retrain"]


MIRROR_OR_TRACING = "drift.mirrorPercent and drift.sampleEvery watch live traffic two ways: set one"
# Refused rather than ignored: batch and live drift read the packaged profile only.
REFERENCE_NOT_SUPPORTED = (
    "drift.reference is not supported yet: drop it (drift is measured against the reference"
    " profile packaged with the model)"
)


class DriftMonitoring(ApiModel):
    """Compare what the model sees with its training reference profile."""

    rules = (
        Rule(
            rule="self.action != 'retrain' || has(self.retrainJob)",
            message="drift action retrain needs retrainJob",
            holds=lambda d: d.action != "retrain" or d.retrain_job is not None,
        ),
        Rule(
            rule="!has(self.mirrorPercent) || !has(self.sampleEvery)",
            message=MIRROR_OR_TRACING,
            holds=lambda d: d.mirror_percent is None or d.sample_every is None,
        ),
        Rule(
            rule="!has(self.reference)",
            message=REFERENCE_NOT_SUPPORTED,
            holds=lambda d: d.reference is None,
        ),
    )

    reference: ModelUri | None = Field(
        default=None,
        description="Not supported yet, and refused: drift is measured against the reference"
        " profile packaged with the model (its modelship.json). Reserved for the uri of another"
        " profile.",
    )
    threshold: float = Field(
        default=0.2,
        gt=0,
        description="Population stability index above which a feature counts as drifted, when"
        " the difference is also significant for the check's size (batch runs' score reports"
        " by it too).",
    )
    window: Duration = Field(default="24h", description="How much recent data each check sees.")
    action: DriftAction = Field(
        default="alert",
        description="alert: the Drifted condition, a Warning Event and the modelship_drift_*"
        " metrics; retrain: also start a run of retrainJob.",
    )
    retrain_job: DnsLabel | None = Field(
        default=None, description="RetrainJob (same namespace) to trigger on drift."
    )
    mirror_percent: Percent | None = Field(
        default=None,
        description="Watch live traffic, off when absent: the Gateway copies this percent of"
        " the requests its HTTPRoute (and GRPCRoute) route to a drift-watch pod that counts"
        " their inputs into the reference profile's bins over the window, and the operator"
        " folds its checks into status.drift (source live/<revision>). The copies' answers are"
        " ignored, so nothing on the request path waits for them. Needs the Gateway API"
        " routes (rollout.strategy Canary with canary.traffic.router gatewayAPI) and a"
        " Gateway that implements RequestMirror with percent.",
    )
    sample_every: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        description="Experimental, off when absent: watch live traffic. Triton traces the"
        " inputs of one request in this many and a sidecar counts them into the reference"
        " profile's bins over the window (raw inputs are deleted as soon as they are counted)."
        " Triton 24.10 (2.51) was measured to corrupt requests and crash under concurrent"
        " load with input tracing on (docs/architecture.md): set it only on a Triton release"
        " that passes hack/bench/live_drift_bench.py.",
    )


class MonitoringSpec(ApiModel):
    """What is watched once the model serves."""

    drift: DriftMonitoring | None = Field(default=None, description="Data drift checks.")
