"""A rollout step that changes by itself at a known time hands that time to the Decision."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from modelship.api.model_deployment import ModelDeployment
from modelship.reconcile import model_deployment, rollout
from modelship.reconcile.model_deployment import Observed, decide
from modelship.reconcile.rollout import Recreate, Rollout, RolloutState, Strategy
from support.reconcile_states import md_body

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class Pausing:
    """Recreate's step, held until a time: what a canary pause will do."""

    def __init__(self, until: datetime) -> None:
        self.until = until

    def step(self, state: RolloutState) -> Rollout:
        step = Recreate().step(state)
        return dataclasses.replace(step, wake_at=self.until)


def test_a_waiting_step_makes_a_decision_that_wakes_at_its_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    until = NOW + timedelta(minutes=2)
    strategy: Strategy = Pausing(until)
    monkeypatch.setattr(model_deployment, "strategy_for", lambda md: strategy)
    decision = decide(Observed(body=md_body(), children=(), now=NOW))
    assert decision.wake_at == until


def test_recreate_never_asks_to_be_woken() -> None:
    decision = decide(Observed(body=md_body(), children=(), now=NOW))
    assert decision.wake_at is None
    assert isinstance(rollout.strategy_for(ModelDeployment.model_validate(md_body())), Recreate)
