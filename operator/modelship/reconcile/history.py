"""Histories kept in status, bounded: the status of a long-lived object must not grow without
end. A ModelDeployment's history lists its revisions and what became of each."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from modelship.api.model_deployment_status import HistoryEntry, RevisionOutcome
from modelship.builders import Revision
from modelship.core.objects import Manifest
from modelship.reconcile.rollout import Rollout

T = TypeVar("T")

# Revisions kept in a ModelDeployment's status.history, newest first.
HISTORY_LIMIT = 10


def bounded(entries: Sequence[T], limit: int = HISTORY_LIMIT) -> list[T]:
    """The newest `limit` entries (entries come newest first)."""
    return list(entries[: max(limit, 0)])


def revision_history(
    history: Sequence[HistoryEntry],
    rollout: Rollout,
    stable_live: Manifest | None,
    canary_live: Manifest | None,
    now: datetime,
) -> list[HistoryEntry]:
    """The stable revision as Serving; the one it replaced, Superseded; a canary rolled
    back, on top as RolledBack with why."""
    if rollout.retried is not None:  # tried again: its rollback no longer holds it back
        history = [entry for entry in history if entry.revision != rollout.retried.name]
    failed = rollout.rolled_back
    if failed is not None and not any(e.revision == failed.revision.name for e in history):
        entry = history_entry(
            failed.revision, canary_live, now, RevisionOutcome.ROLLED_BACK, failed.message
        )
        history = bounded([entry, *history])
    revision = rollout.plan.stable.revision
    if any(
        entry.revision == revision.name and entry.outcome == RevisionOutcome.SERVING
        for entry in history
    ):
        return list(history)
    entries = [
        entry.model_copy(update={"outcome": RevisionOutcome.SUPERSEDED})
        if entry.outcome == RevisionOutcome.SERVING
        else entry
        for entry in history
    ]
    entry = history_entry(revision, stable_live, now, RevisionOutcome.SERVING)
    return bounded([entry, *entries])


def history_entry(
    revision: Revision,
    live: Manifest | None,
    now: datetime,
    outcome: RevisionOutcome,
    message: str | None = None,
) -> HistoryEntry:
    """``revision`` in the history, deployed when its live Deployment was created (now if
    there is none yet)."""
    model = revision.model
    created = (live or {}).get("metadata", {}).get("creationTimestamp")
    return HistoryEntry(
        revision=revision.name,
        version=model.version,
        uri=model.uri,
        sha256=model.sha256,
        lineage=model.lineage,
        deployed_at=created or now,
        outcome=outcome,
        message=message,
    )
