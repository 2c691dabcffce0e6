"""A canary's measurements: a window of both revisions' counters opened, and judged once it
is an analysis interval old (see `analysis` for the judgement)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from modelship.api.model_deployment_status import (
    AnalysisOutcome,
    AnalysisResult,
    AnalysisWindow,
    RequestCounters,
)
from modelship.api.rollout import CanarySpec
from modelship.reconcile.rollout.analysis import duration, judge, window
from modelship.reconcile.rollout.base import CanaryProgress, RolloutState

# Measurements kept in status.canary.analyses (the API's maxItems).
ANALYSES_KEPT = 10


def measure(
    state: RolloutState, settings: CanarySpec, progress: CanaryProgress
) -> tuple[CanaryProgress, AnalysisResult | None]:
    """A measurement when the window is an interval old and both revisions were scraped."""
    now = state.now
    if progress.window is None:
        return with_window(progress, open_window(state, now)), None
    due = progress.window.started_at + duration(settings.analysis.interval)
    current = counters(state)
    if now < due or current is None:
        return progress, None
    stable_now, canary_now = current
    canary = window(progress.window.canary, canary_now)
    stable = window(progress.window.stable, stable_now)
    verdict = judge(settings.analysis, canary, stable)
    result = AnalysisResult(
        at=now, step=progress.step, outcome=verdict.outcome, message=verdict.message
    )
    few_requests = verdict.outcome == AnalysisOutcome.INCONCLUSIVE and None not in (canary, stable)
    # Too few requests: the window grows until there are enough; otherwise a new one opens.
    opened = progress.window if few_requests else open_window(state, now)
    analyses = (result, *progress.analyses)[:ANALYSES_KEPT]
    measured = dataclasses.replace(
        progress, tally=progress.tally.counted(verdict), window=opened, analyses=analyses
    )
    return measured, result


def with_window(progress: CanaryProgress, opened: AnalysisWindow | None) -> CanaryProgress:
    return dataclasses.replace(progress, window=opened)


def counters(state: RolloutState) -> tuple[RequestCounters, RequestCounters] | None:
    assert state.stable is not None
    stable, canary = state.metrics.get(state.stable.name), state.metrics.get(state.target.name)
    return None if stable is None or canary is None else (stable, canary)


def open_window(state: RolloutState, now: datetime) -> AnalysisWindow | None:
    """A window starting now, from the counters scraped now (None: none were)."""
    current = counters(state)
    if current is None:
        return None
    return AnalysisWindow(started_at=now, stable=current[0], canary=current[1])


def next_measurement(
    state: RolloutState, settings: CanarySpec, progress: CanaryProgress
) -> datetime:
    interval = duration(settings.analysis.interval)
    if progress.window is None:
        return state.now + interval  # scrape again then
    return max(progress.window.started_at + interval, state.now)
