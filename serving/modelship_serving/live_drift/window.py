"""Bin counts over a rolling time window, kept as a ring of equal slices.

The window is cut into a fixed number of slices; counts go into the current slice and a
slice is dropped once it lies wholly outside the window, so the window's counts are the
sum of at most that many summaries however much traffic came through.
"""

from __future__ import annotations

import math
from collections import deque

from modelship_serving.drift import BatchCounts
from modelship_serving.profile import ReferenceProfile

SLICES = 24


class RollingCounts:
    """Counts of the last ``window_seconds`` (to within one slice)."""

    def __init__(
        self, reference: ReferenceProfile, window_seconds: float, slices: int = SLICES
    ) -> None:
        if window_seconds <= 0 or slices < 1:
            raise ValueError("a rolling window needs a positive length and at least one slice")
        self._reference = reference
        self._slice_seconds = window_seconds / slices
        self._slices = slices
        self._ring: deque[tuple[int, BatchCounts]] = deque()

    def _slice_of(self, now: float) -> int:
        return math.floor(now / self._slice_seconds)

    def _expire(self, now: float) -> None:
        oldest_kept = self._slice_of(now) - self._slices + 1
        while self._ring and self._ring[0][0] < oldest_kept:
            self._ring.popleft()

    def add(self, counts: BatchCounts, now: float) -> None:
        """Count ``counts`` as seen at ``now`` (seconds on a monotonic clock)."""
        self._expire(now)
        current = self._slice_of(now)
        if not self._ring or self._ring[-1][0] != current:
            self._ring.append((current, BatchCounts.empty(self._reference)))
        self._ring[-1][1].merge(counts)

    def total(self, now: float) -> BatchCounts:
        """The counts of the window that ends at ``now``."""
        self._expire(now)
        total = BatchCounts.empty(self._reference)
        for _, counts in self._ring:
            total.merge(counts)
        return total
