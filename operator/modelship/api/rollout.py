"""How new revisions replace old ones: Recreate, or a canary with traffic steps and analysis."""

from __future__ import annotations

import itertools
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field

from modelship.api.base import (
    URI_MAX_LENGTH,
    ApiModel,
    Duration,
    HttpUrl,
    NonNegativeInt32,
    Percent,
    duration,
)
from modelship.api.canary_traffic import CanaryTraffic
from modelship.api.cel import Rule
from modelship.api.common import Resources, resources_field


class RolloutStrategy(StrEnum):
    CANARY = "Canary"
    RECREATE = "Recreate"


class CanaryStep(ApiModel):
    """Send a share of traffic to the new revision, then wait."""

    weight: Percent = Field(description="Percent of traffic to the new revision.")
    pause: Duration = Field(
        default="1m", description="How long to hold this weight while analysis runs."
    )


class MetricsProviderType(StrEnum):
    TRITON = "triton"
    PROMETHEUS = "prometheus"


class MetricsProvider(ApiModel):
    """Where canary analysis reads request counts, failures and latency."""

    rules = (
        Rule(
            rule="self.type != 'prometheus' || has(self.url)",
            message="a prometheus metrics provider needs url",
            holds=lambda p: p.type != MetricsProviderType.PROMETHEUS or p.url is not None,
        ),
    )

    type: MetricsProviderType = Field(
        default=MetricsProviderType.TRITON,
        description="triton: scrape each revision's metrics port; prometheus: query url.",
    )
    url: HttpUrl | None = Field(
        default=None,
        description="Prometheus base URL.",
    )


# A rate or share of requests: 0 to 1 (0.05 = 5%).
Fraction = Annotated[float, Field(ge=0, le=1)]
# The canary's figure divided by stable's: a bound below 1 would fail an equal canary.
RatioToStable = Annotated[float, Field(ge=1)]
Milliseconds = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]


def _ratio_limit(default: float, figure: str, note: str = "") -> Any:
    """A bound on the canary's mean ``figure`` divided by stable's."""
    return Field(
        default=default,
        description=f"Largest allowed canary mean {figure} divided by stable's.{note}",
    )


def _milliseconds_limit(figure: str) -> Any:
    """An optional bound on the canary's mean ``figure`` in milliseconds."""
    return Field(
        default=None,
        description=f"Largest allowed canary mean {figure} in milliseconds; unset: none.",
    )


# The shortest analysis interval: each measurement wakes the operator, scrapes both
# revisions' pods and writes status, so 0s (or a few ms) would do that in a busy loop.
MIN_ANALYSIS_INTERVAL = timedelta(seconds=1)
ANALYSIS_INTERVAL_TOO_SHORT = (
    "analysis.interval must be at least 1s (each measurement scrapes both revisions and"
    " writes status; the default is 1m)"
)


class CanaryAnalysis(ApiModel):
    """How the new revision is judged against the stable one while traffic shifts."""

    rules = (
        Rule(
            rule="duration(self.interval) >= duration('1s')",
            message=ANALYSIS_INTERVAL_TOO_SHORT,
            holds=lambda a: duration(a.interval) >= MIN_ANALYSIS_INTERVAL,
        ),
    )

    interval: Duration = Field(default="1m", description="Time between two measurements.")
    max_failure_rate_increase: Fraction = Field(
        default=0.01,
        description=(
            "How much higher the canary's failure rate may be than stable's "
            "(0.01 = one percentage point)."
        ),
    )
    max_latency_ratio: RatioToStable = _ratio_limit(1.5, "latency")
    max_failure_rate: Fraction | None = Field(
        default=None,
        description=(
            "Largest allowed canary failure rate, whatever stable's (0.05 = 5%); unset: none."
        ),
    )
    max_mean_latency_ms: Milliseconds | None = _milliseconds_limit("request latency")
    max_queue_time_ratio: RatioToStable = _ratio_limit(
        2.0,
        "queue time",
        " Ratios of latency and queue time never fail on a difference under 1 ms.",
    )
    max_mean_queue_time_ms: Milliseconds | None = _milliseconds_limit("queue time")
    min_requests: NonNegativeInt32 = Field(
        default=100,
        description="Requests a canary must have served before it is judged.",
    )
    failure_limit: NonNegativeInt32 = Field(
        default=1,
        description=(
            "Measurements failed on the failure rate tolerated before automatic rollback (the "
            "canary goes at one more)."
        ),
    )
    latency_failure_limit: NonNegativeInt32 = Field(
        default=2,
        description=(
            "Measurements failed on latency or queue time alone tolerated before automatic "
            "rollback: timings are noisier than failures on a busy node, so they get their own "
            "limit."
        ),
    )
    provider: MetricsProvider = Field(
        default_factory=MetricsProvider, description="Where the metrics come from."
    )


# Where a gate's reference table is read from: object storage or http(s), a table by its
# extension; no user info or query string (the spec is shown by kubectl), length bounded.
GATE_DATA_URI_PATTERN = r"^(s3|gs|az|https?)://[^/?#@]+/[^?#@]*\.(csv|parquet|jsonl)$"
GateDataUri = Annotated[str, Field(pattern=GATE_DATA_URI_PATTERN, max_length=URI_MAX_LENGTH)]


class PredictionGate(ApiModel):
    """Before any traffic, the canary answers a reference table and is compared with stable.

    A Job in the serving image (`modelship compare`) sends the same rows to both revisions;
    the canary passes when its answers are close enough to stable's, and is rolled back
    otherwise, before any user request reaches it.
    """

    min_agreement: Fraction = Field(
        default=0.95,
        description="Classifiers: least share of rows whose predicted label must agree.",
    )
    max_mean_abs_diff: NonNegativeFloat | None = Field(
        default=None,
        description="Regressors: largest mean absolute difference of predictions; unset: none.",
    )
    max_shift: NonNegativeFloat = Field(
        default=0.25,
        description=(
            "Regressors: largest shift (PSI) of the canary's prediction distribution from "
            "stable's (0.1: moderate, 0.25: major)."
        ),
    )
    data: GateDataUri | None = Field(
        default=None,
        description=(
            "Reference table (s3://, gs://, az:// or http(s)://, ending in .csv, .parquet or "
            ".jsonl; read with the model's credentials Secret); unset: rows drawn from the model "
            "package's recorded reference profile."
        ),
    )
    rows: int = Field(default=1000, ge=1, le=100_000, description="Rows sent to each revision.")
    timeout: Duration = Field(
        default="10m",
        description="How long the comparison may take before the canary is rolled back.",
    )
    resources: Resources = resources_field("the gate Job's container (modelship compare)")


class CanarySpec(ApiModel):
    """A canary rollout: shift traffic step by step, judge, roll back on failure."""

    rules = (
        Rule(
            rule=(
                "self.steps.map(s, s.weight).isSorted() && "
                "self.steps.all(s, self.steps.exists_one(t, t.weight == s.weight))"
            ),
            message="canary step weights must be strictly increasing",
            holds=lambda c: all(a < b for a, b in itertools.pairwise(c.weights)),
            detail=lambda c: f", got {c.weights}",
        ),
    )

    steps: list[CanaryStep] = Field(
        default_factory=lambda: [CanaryStep(weight=10), CanaryStep(weight=50)],
        min_length=1,
        max_length=20,
        description="Traffic steps, in strictly increasing weight; 100% follows the last.",
    )
    analysis: CanaryAnalysis = Field(
        default_factory=CanaryAnalysis, description="How each step is judged."
    )
    traffic: CanaryTraffic = Field(
        default_factory=CanaryTraffic, description="How traffic is split."
    )
    prediction_gate: PredictionGate | None = Field(
        default=None,
        description=(
            "Compare the canary's predictions with stable's before its first step; unset: "
            "no comparison."
        ),
    )

    @property
    def weights(self) -> list[int]:
        return [step.weight for step in self.steps]


CANARY_NEEDS_STRATEGY = (
    "rollout.canary is set but rollout.strategy is Recreate (its default), so no canary would"
    " run: set rollout.strategy: Canary, or remove rollout.canary"
)


class RolloutSpec(ApiModel):
    """How a new model revision replaces the running one."""

    # As a Deployment refuses rollingUpdate with type Recreate: settings that would be
    # silently ignored are a mistake to point out, not to accept.
    rules = (
        Rule(
            rule="!has(self.canary) || self.strategy == 'Canary'",
            message=CANARY_NEEDS_STRATEGY,
            holds=lambda r: r.canary is None or r.strategy == RolloutStrategy.CANARY,
        ),
    )

    strategy: RolloutStrategy = Field(
        default=RolloutStrategy.RECREATE,
        description=(
            "Recreate: the new revision takes over once available; Canary: traffic "
            "shifts in steps judged on live metrics."
        ),
    )
    canary: CanarySpec | None = Field(
        default=None, description="Canary settings; defaults apply when strategy is Canary."
    )
