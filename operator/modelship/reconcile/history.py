"""Bounded histories: the status of a long-lived object must not grow without end."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

# Revisions kept in a ModelDeployment's status.history, newest first.
HISTORY_LIMIT = 10


def bounded(entries: Sequence[T], limit: int = HISTORY_LIMIT) -> list[T]:
    """The newest `limit` entries (entries come newest first)."""
    return list(entries[: max(limit, 0)])
