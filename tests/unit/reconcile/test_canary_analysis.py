"""One measurement's verdict: the thresholds a user sets, relative to stable and absolute."""

from __future__ import annotations

from datetime import timedelta

import pytest
from modelship.api.model_deployment_status import AnalysisOutcome
from modelship.api.rollout import CanaryAnalysis
from modelship.reconcile.rollout.analysis import Tally, Window, duration, judge


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


FAILING = served(200, failed=10)  # 5%: fails on the failure rate
SLOW = served(200, latency_ms=8)  # fails on latency alone
SLOW_AND_FAILING = served(200, failed=10, latency_ms=8)


@pytest.mark.parametrize(
    ("measurements", "rolled_back_at"),
    [
        # Defaults: the second measurement failed on the failure rate rolls the canary back.
        ([FAILING, FAILING], 2),
        ([FAILING, STABLE, FAILING], 3),
        # Timings alone are noisier on a busy node: the third such measurement does.
        ([SLOW, SLOW, SLOW], 3),
        ([SLOW, FAILING, SLOW, FAILING], 4),
        # A measurement failing both ways counts as a failure-rate one.
        ([SLOW_AND_FAILING, SLOW_AND_FAILING], 2),
        ([STABLE] * 5, None),
    ],
)
def test_each_kind_of_failed_measurement_has_its_own_limit(
    measurements: list[Window], rolled_back_at: int | None
) -> None:
    settings, tally = CanaryAnalysis(), Tally()
    for number, canary in enumerate(measurements, start=1):
        tally = tally.counted(judge(settings, canary, STABLE))
        if tally.exhausted(settings):
            assert number == rolled_back_at
            return
    assert rolled_back_at is None


def test_a_counter_that_went_down_is_inconclusive() -> None:
    verdict = judge(CanaryAnalysis(), None, STABLE)
    assert verdict.outcome == AnalysisOutcome.INCONCLUSIVE
    assert "restarted" in verdict.message


@pytest.mark.parametrize(
    ("text", "seconds"), [("1m", 60), ("1m30s", 90), ("500ms", 0.5), ("1h", 3600), ("0s", 0)]
)
def test_api_durations(text: str, seconds: float) -> None:
    assert duration(text) == timedelta(seconds=seconds)
