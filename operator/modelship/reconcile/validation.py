"""Whether a trained candidate may be promoted: named checks of its score against the champion's.

The scores come from the validation Job's `modelship evaluate` report (both models scored on
the same holdout table), or, without `validation.data`, from what the trainer reported and
what the champion scored when it was promoted. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError

from modelship.api.retrain_job import (
    TrainerResult,
    ValidationRecord,
    ValidationSpec,
    ValidationVerdict,
)
from modelship.reconcile.parsing import problems

# Metrics where lower is better, by name; also any name ending in one of the suffixes.
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae", "mse"})
LOWER_IS_BETTER_SUFFIXES = ("loss", "error")

# Reasons, one per check.
VALIDATED = "Validated"
METRIC_MISSING = "MetricMissing"
THRESHOLD_NOT_MET = "ThresholdNotMet"
CHAMPION_NOT_BEATEN = "ChampionNotBeaten"
REPORT_INVALID = "ReportInvalid"


def greater_is_better(spec: ValidationSpec) -> bool:
    """The spec's word, else by the metric's name: losses and errors are lower-is-better."""
    if spec.greater_is_better is not None:
        return spec.greater_is_better
    name = spec.metric.lower()
    return not (name in LOWER_IS_BETTER or name.endswith(LOWER_IS_BETTER_SUFFIXES))


@dataclass(frozen=True)
class Scores:
    """The decisive metric of both models; `champion_uri` None: there is no champion."""

    candidate: float | None
    champion: float | None = None
    champion_uri: str | None = None
    candidate_metrics: Mapping[str, float | None] | None = None


Failure = tuple[str, str]  # (reason, message)
Check = Callable[[ValidationSpec, Scores], Failure | None]


def metric_present(spec: ValidationSpec, scores: Scores) -> Failure | None:
    if scores.candidate is None:
        return METRIC_MISSING, f"The candidate has no {spec.metric} score to judge."
    return None


def threshold_met(spec: ValidationSpec, scores: Scores) -> Failure | None:
    if spec.threshold is None or scores.candidate is None:
        return None
    if _better_or_equal(spec, scores.candidate, spec.threshold):
        return None
    bound = "at least" if greater_is_better(spec) else "at most"
    return (
        THRESHOLD_NOT_MET,
        f"{spec.metric} {scores.candidate:g} does not reach the threshold "
        f"({bound} {spec.threshold:g}).",
    )


def beats_champion(spec: ValidationSpec, scores: Scores) -> Failure | None:
    if not spec.must_beat_current or scores.candidate is None or scores.champion is None:
        return None  # no champion, or it has no score to beat
    # With a margin the candidate must gain at least that much; without, any gain at all.
    sign = 1.0 if greater_is_better(spec) else -1.0
    if spec.margin > 0:
        beaten = _better_or_equal(spec, scores.candidate, scores.champion + sign * spec.margin)
    else:
        beaten = scores.candidate != scores.champion and _better_or_equal(
            spec, scores.candidate, scores.champion
        )
    if beaten:
        return None
    by = f" by {spec.margin:g}" if spec.margin else ""
    return (
        CHAMPION_NOT_BEATEN,
        f"{spec.metric} {scores.candidate:g} does not beat the champion's "
        f"{scores.champion:g}{by} ({scores.champion_uri}).",
    )


CHECKS: tuple[Check, ...] = (metric_present, threshold_met, beats_champion)


def judge(spec: ValidationSpec, scores: Scores, job: str | None = None) -> ValidationRecord:
    """The verdict: the first check that fails rejects the candidate."""
    failure = next((f for check in CHECKS if (f := check(spec, scores)) is not None), None)
    if failure is not None:
        verdict, (reason, message) = ValidationVerdict.REJECTED, failure
    else:
        verdict, reason, message = ValidationVerdict.VALIDATED, VALIDATED, _passed(spec, scores)
    return ValidationRecord(
        metric=spec.metric,
        candidate=scores.candidate,
        champion=scores.champion,
        champion_uri=scores.champion_uri,
        job=job,
        verdict=verdict,
        reason=reason,
        message=message,
        metrics=dict(scores.candidate_metrics or {}),
    )


def _passed(spec: ValidationSpec, scores: Scores) -> str:
    text = f"{spec.metric} {scores.candidate:g}"
    if spec.threshold is not None:
        text += f" reaches the threshold {spec.threshold:g}"
    if scores.champion is not None and spec.must_beat_current:
        joiner = " and" if spec.threshold is not None else ""
        text += f"{joiner} beats the champion's {scores.champion:g}"
    elif scores.champion_uri is None:
        text += "; there is no champion to beat"
    elif spec.must_beat_current:
        text += f"; the champion ({scores.champion_uri}) has no {spec.metric} score to beat"
    return text + "."


def _better_or_equal(spec: ValidationSpec, value: float, bound: float) -> bool:
    return value >= bound if greater_is_better(spec) else value <= bound


def trainer_scores(
    spec: ValidationSpec, result: TrainerResult, champion: TrainerResult | None
) -> Scores:
    """Without validation.data: the trainer's own metric against the champion's recorded one."""
    return Scores(
        candidate=result.metrics.get(spec.metric),
        champion=champion.metrics.get(spec.metric) if champion is not None else None,
        champion_uri=champion.uri if champion is not None else None,
        candidate_metrics=dict(result.metrics),
    )


class _Scored(BaseModel):
    uri: str
    metrics: dict[str, float | None] = {}


class EvaluationReport(BaseModel):
    """What `modelship evaluate` writes to its termination message."""

    task: str
    rows: int
    label: str
    candidate: _Scored
    champion: _Scored | None = None


def report_scores(spec: ValidationSpec, message: str) -> Scores | str:
    """The scores an evaluate report gives, or why it is not one."""
    try:
        report = EvaluationReport.model_validate_json(message)
    except ValidationError as error:
        return f"its report is not what modelship evaluate writes ({problems(error)})"
    champion = report.champion
    return Scores(
        candidate=report.candidate.metrics.get(spec.metric),
        champion=champion.metrics.get(spec.metric) if champion is not None else None,
        champion_uri=champion.uri if champion is not None else None,
        candidate_metrics=report.candidate.metrics,
    )
