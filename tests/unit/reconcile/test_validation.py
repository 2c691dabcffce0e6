"""Validation verdicts: each named check, both directions of better, margin and no champion."""

from __future__ import annotations

from typing import Any

import pytest
from modelship.api.retrain_job import ValidationSpec
from modelship.reconcile.validation import Scores, greater_is_better, judge, report_scores


def spec(**fields: Any) -> ValidationSpec:
    return ValidationSpec.model_validate({"metric": "accuracy", **fields})


CHAMPION = "s3://models/wine/3"


@pytest.mark.parametrize(
    ("fields", "scores", "verdict", "reason"),
    [
        ({}, Scores(0.9), "Validated", "Validated"),  # no champion, no threshold
        ({}, Scores(None), "Rejected", "MetricMissing"),
        ({"threshold": 0.8}, Scores(0.85), "Validated", "Validated"),
        ({"threshold": 0.8}, Scores(0.8), "Validated", "Validated"),  # reaching is enough
        ({"threshold": 0.8}, Scores(0.79), "Rejected", "ThresholdNotMet"),
        ({}, Scores(0.91, 0.90, CHAMPION), "Validated", "Validated"),
        ({}, Scores(0.90, 0.90, CHAMPION), "Rejected", "ChampionNotBeaten"),  # a tie is no gain
        ({}, Scores(0.89, 0.90, CHAMPION), "Rejected", "ChampionNotBeaten"),
        ({"margin": 0.02}, Scores(0.915, 0.90, CHAMPION), "Rejected", "ChampionNotBeaten"),
        ({"margin": 0.02}, Scores(0.93, 0.90, CHAMPION), "Validated", "Validated"),
        ({"mustBeatCurrent": False}, Scores(0.5, 0.9, CHAMPION), "Validated", "Validated"),
        # The champion could not be scored on this metric: nothing to beat.
        ({}, Scores(0.7, None, CHAMPION), "Validated", "Validated"),
        # Lower is better, by name.
        ({"metric": "rmse", "threshold": 1.0}, Scores(0.8), "Validated", "Validated"),
        ({"metric": "rmse", "threshold": 1.0}, Scores(1.2), "Rejected", "ThresholdNotMet"),
        ({"metric": "log_loss"}, Scores(0.3, 0.4, CHAMPION), "Validated", "Validated"),
        ({"metric": "val_loss"}, Scores(0.5, 0.4, CHAMPION), "Rejected", "ChampionNotBeaten"),
        ({"metric": "mae", "margin": 0.1}, Scores(0.35, 0.4, CHAMPION), "Rejected",
         "ChampionNotBeaten"),
        # ... and by the spec's word, which wins.
        ({"metric": "rmse", "greaterIsBetter": True}, Scores(1.2, 1.0, CHAMPION), "Validated",
         "Validated"),
        # The threshold is checked before the champion.
        ({"threshold": 0.95}, Scores(0.9, 0.95, CHAMPION), "Rejected", "ThresholdNotMet"),
    ],
)  # fmt: skip
def test_verdicts(fields: dict[str, Any], scores: Scores, verdict: str, reason: str) -> None:
    record = judge(spec(**fields), scores)
    assert (record.verdict, record.reason) == (verdict, reason), record.message
    assert (record.candidate, record.champion) == (scores.candidate, scores.champion)


def test_the_messages_say_what_was_compared() -> None:
    rejected = judge(spec(margin=0.02), Scores(0.91, 0.90, CHAMPION))
    assert rejected.message == (
        "accuracy 0.91 does not beat the champion's 0.9 by 0.02 (s3://models/wine/3)."
    )
    validated = judge(spec(threshold=0.8), Scores(0.91, 0.90, CHAMPION))
    assert validated.message == (
        "accuracy 0.91 reaches the threshold 0.8 and beats the champion's 0.9."
    )


@pytest.mark.parametrize(
    ("metric", "expected"),
    [("accuracy", True), ("roc_auc", True), ("r2", True), ("f1", True), ("log_loss", False),
     ("rmse", False), ("mae", False), ("val_loss", False), ("MeanSquaredError", False)],
)  # fmt: skip
def test_lower_is_better_for_losses_and_errors(metric: str, expected: bool) -> None:
    assert greater_is_better(spec(metric=metric)) is expected


REPORT = (
    '{"task": "classification", "rows": 200, "label": "quality", '
    '"candidate": {"uri": "s3://models/wine/run", "metrics": {"accuracy": 0.93, "roc_auc": null}}, '
    '"champion": {"uri": "s3://models/wine/3", "metrics": {"accuracy": 0.9}}}'
)


def test_an_evaluate_report_gives_both_scores() -> None:
    scores = report_scores(spec(), REPORT)
    assert scores == Scores(0.93, 0.9, "s3://models/wine/3", {"accuracy": 0.93, "roc_auc": None})
    alone = report_scores(spec(), REPORT.replace(
        ', "champion": {"uri": "s3://models/wine/3", "metrics": {"accuracy": 0.9}}', ""
    ))  # fmt: skip
    assert isinstance(alone, Scores)
    assert alone.champion_uri is None


def test_a_report_that_is_not_one_says_why() -> None:
    assert report_scores(spec(), '{"rows": 3}') == (
        "its report is not what modelship evaluate writes (task: Field required; "
        "label: Field required; candidate: Field required)"
    )
