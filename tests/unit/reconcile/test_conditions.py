"""Conditions move lastTransitionTime only when their status flips, and carry the generation."""

from __future__ import annotations

from datetime import datetime

import pytest
from modelship.api.common import Condition, ConditionStatus
from modelship.reconcile.conditions import Verdict, merge_conditions
from support.reconcile_states import LATER, NOW

TRUE, FALSE = ConditionStatus.TRUE, ConditionStatus.FALSE


def ready(status: ConditionStatus, reason: str, message: str, at: datetime) -> Condition:
    return Condition(
        type="Ready",
        status=status,
        reason=reason,
        message=message,
        last_transition_time=at,
        observed_generation=1,
    )


UP = Verdict.true("Ready", "Serving", "up")
ROLLING_OUT = Verdict.false("Ready", "RollingOut", "v2 starts")
WAITING = ready(FALSE, "WaitingForReplicas", "0 of 1", NOW)


@pytest.mark.parametrize(
    ("previous", "verdict", "transition_time"),
    [
        pytest.param([], UP, LATER, id="new condition starts now"),
        pytest.param([WAITING], UP, LATER, id="a flip moves the time"),
        pytest.param(
            [WAITING], ROLLING_OUT, NOW, id="new reason and message, same status: time kept"
        ),
        pytest.param(
            [ready(TRUE, "Serving", "up", NOW)], UP, NOW, id="nothing new: the same condition"
        ),
    ],
)
def test_transition_time_moves_only_on_flip(
    previous: list[Condition], verdict: Verdict, transition_time: datetime
) -> None:
    """The merged condition says what the verdict says, since ``transition_time``."""
    expected = ready(verdict.status, verdict.reason, verdict.message, transition_time)
    assert merge_conditions(previous, [verdict], 1, LATER) == [expected]


def test_conditions_no_verdict_speaks_of_are_kept_after_the_others() -> None:
    custom = Condition(type="DriftDetected", status=FALSE, reason="Quiet", last_transition_time=NOW)
    merged = merge_conditions([custom], [Verdict.true("Ready", "Serving", "up")], 3, LATER)
    assert merged == [
        Condition(
            type="Ready",
            status=TRUE,
            reason="Serving",
            message="up",
            last_transition_time=LATER,
            observed_generation=3,
        ),
        custom,
    ]
