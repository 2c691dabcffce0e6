"""One measurement's verdict: the thresholds a user sets, relative to stable and absolute."""

from __future__ import annotations

from datetime import timedelta

import pytest
from modelship.api.model_deployment_status import AnalysisOutcome
from modelship.api.rollout import CanaryAnalysis
from modelship.reconcile.rollout.analysis import Window, duration, judge


def served(requests: int, failed: int = 0, latency_ms: float = 5, queue_ms: float = 0.1) -> Window:
    ok = requests - failed
    return Window(ok, failed, ok * latency_ms * 1000, ok * queue_ms * 1000)


STABLE = served(1000, failed=10)  # 1% failing, 5 ms


@pytest.mark.parametrize(
    ("settings", "canary", "outcome", "quoted"),
    [
        ({}, served(200, failed=4), "Passed", ""),  # 2% <= 1% + 1 point
        ({}, served(200, failed=6), "Failed", "exceeds stable's 1.00% by more than 1.00%"),
        ({"maxFailureRate": 0.015}, served(200, failed=4), "Failed", "exceeds 1.50%"),
        ({}, served(200, latency_ms=8), "Failed", "mean latency 8.00 ms is more than 1.5 times"),
        ({}, served(200, latency_ms=5.9), "Passed", ""),  # under 1 ms worse: noise
        ({"maxMeanLatencyMs": 4}, served(200), "Failed", "mean latency 5.00 ms exceeds 4 ms"),
        ({}, served(200, queue_ms=3), "Failed", "mean queue time 3.00 ms is more than 2 times"),
        ({"maxMeanQueueTimeMs": 0.05}, served(200), "Failed", "queue time 0.10 ms exceeds"),
        ({"minRequests": 500}, served(200), "Inconclusive", "fewer than the 500 needed"),
    ],
)
def test_a_measurement_judges_the_canary_against_stable(
    settings: dict[str, float], canary: Window, outcome: str, quoted: str
) -> None:
    verdict = judge(CanaryAnalysis.model_validate(settings), canary, STABLE)
    assert verdict.outcome == AnalysisOutcome(outcome)
    assert quoted in verdict.message


def test_a_counter_that_went_down_is_inconclusive() -> None:
    verdict = judge(CanaryAnalysis(), None, STABLE)
    assert verdict.outcome == AnalysisOutcome.INCONCLUSIVE
    assert "restarted" in verdict.message


@pytest.mark.parametrize(
    ("text", "seconds"), [("1m", 60), ("1m30s", 90), ("500ms", 0.5), ("1h", 3600), ("0s", 0)]
)
def test_api_durations(text: str, seconds: float) -> None:
    assert duration(text) == timedelta(seconds=seconds)
