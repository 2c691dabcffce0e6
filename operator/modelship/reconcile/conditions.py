"""Conditions as the Kubernetes API conventions want them.

``lastTransitionTime`` moves only when a condition's status flips; a new reason
or message alone keeps it, so that an idle reconcile writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from modelship.api.common import Condition, ConditionStatus


@dataclass(frozen=True)
class Verdict:
    """What one condition should say now; the transition time is worked out on merge."""

    type: str
    status: ConditionStatus
    reason: str
    message: str

    @classmethod
    def true(cls, type_: str, reason: str, message: str) -> Verdict:
        return cls(type_, ConditionStatus.TRUE, reason, message)

    @classmethod
    def false(cls, type_: str, reason: str, message: str) -> Verdict:
        return cls(type_, ConditionStatus.FALSE, reason, message)


@dataclass(frozen=True)
class Cause:
    """Why a condition says what it says: its reason (CamelCase) and message (a sentence)."""

    reason: str
    message: str


def merge_conditions(
    previous: Sequence[Condition],
    verdicts: Sequence[Verdict],
    generation: int | None,
    now: datetime,
) -> list[Condition]:
    """The new conditions: verdicts in their order, then previous ones no verdict speaks of."""
    before = {condition.type: condition for condition in previous}
    merged: list[Condition] = []
    for verdict in verdicts:
        old = before.pop(verdict.type, None)
        flipped = old is None or old.status != verdict.status
        merged.append(
            Condition(
                type=verdict.type,
                status=verdict.status,
                reason=verdict.reason,
                message=verdict.message,
                last_transition_time=now if flipped or old is None else old.last_transition_time,
                observed_generation=generation,
            )
        )
    merged.extend(before.values())
    return merged


def find(conditions: Sequence[Condition], type_: str) -> Condition | None:
    return next((condition for condition in conditions if condition.type == type_), None)
