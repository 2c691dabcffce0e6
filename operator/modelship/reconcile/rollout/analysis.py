"""Judge a canary against the stable revision on Triton's own counters over one window.

Pure: the counters at the window's start (kept in status) and now (scraped by the
handler) go in, a verdict with the measurements it compared comes out. Every rate
and mean is taken over the same window for both revisions.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelship.api.base import duration as duration
from modelship.api.model_deployment_status import AnalysisOutcome, RequestCounters
from modelship.api.rollout import CanaryAnalysis

# A ratio of latency or queue time never fails on a difference smaller than this: a
# model answering in 100 µs is not worse for answering in 300 µs.
NOISE_FLOOR_US = 1000.0


@dataclass(frozen=True)
class Window:
    """What one revision did in the window: requests, failures and time spent."""

    success: float
    failure: float
    request_duration_us: float
    queue_duration_us: float

    @property
    def requests(self) -> float:
        return self.success + self.failure

    @property
    def failure_rate(self) -> float:
        return self.failure / self.requests if self.requests else 0.0

    @property
    def mean_latency_us(self) -> float | None:
        return self.request_duration_us / self.success if self.success else None

    @property
    def mean_queue_us(self) -> float | None:
        return self.queue_duration_us / self.success if self.success else None


def window(start: RequestCounters, end: RequestCounters) -> Window | None:
    """The counters' increase; None when one went down (a pod restarted or went away)."""
    deltas = (
        end.success - start.success,
        end.failure - start.failure,
        end.request_duration_us - start.request_duration_us,
        end.queue_duration_us - start.queue_duration_us,
    )
    if any(delta < 0 for delta in deltas):
        return None
    return Window(*deltas)


@dataclass(frozen=True)
class Verdict:
    outcome: AnalysisOutcome
    message: str
    timing_only: bool = False  # failed on latency or queue time alone, not on failures


@dataclass(frozen=True)
class Tally:
    """Failed measurements so far, by what failed: the failure rate, or timings alone."""

    failed: int = 0
    failed_on_timing: int = 0

    def counted(self, verdict: Verdict) -> Tally:
        if verdict.outcome != AnalysisOutcome.FAILED:
            return self
        if verdict.timing_only:
            return Tally(self.failed, self.failed_on_timing + 1)
        return Tally(self.failed + 1, self.failed_on_timing)

    def exhausted(self, settings: CanaryAnalysis) -> bool:
        """Whether the canary is rolled back: one failure more than a limit tolerates."""
        return (
            self.failed > settings.failure_limit
            or self.failed_on_timing > settings.latency_failure_limit
        )


def judge(settings: CanaryAnalysis, canary: Window | None, stable: Window | None) -> Verdict:
    """Passed, Failed (the message quotes the failing measurement) or Inconclusive."""
    if canary is None or stable is None:
        which = "canary" if canary is None else "stable"
        return Verdict(
            AnalysisOutcome.INCONCLUSIVE,
            f"the {which} revision's counters went down (a pod restarted): window restarted",
        )
    if canary.requests < settings.min_requests:
        return Verdict(
            AnalysisOutcome.INCONCLUSIVE,
            f"canary served {canary.requests:.0f} requests, fewer than the "
            f"{settings.min_requests} needed to judge",
        )
    measured = _measured(canary, stable)
    rate = _failure_rate(settings, canary, stable)
    failures = [
        *rate,
        *_time(
            "mean latency",
            canary.mean_latency_us,
            stable.mean_latency_us,
            settings.max_latency_ratio,
            settings.max_mean_latency_ms,
        ),
        *_time(
            "mean queue time",
            canary.mean_queue_us,
            stable.mean_queue_us,
            settings.max_queue_time_ratio,
            settings.max_mean_queue_time_ms,
        ),
    ]
    if failures:
        return Verdict(
            AnalysisOutcome.FAILED, f"{'; '.join(failures)} ({measured})", timing_only=not rate
        )
    return Verdict(AnalysisOutcome.PASSED, measured)


def _measured(canary: Window, stable: Window) -> str:
    def side(name: str, w: Window) -> str:
        latency = "-" if w.mean_latency_us is None else f"{w.mean_latency_us / 1000:.2f} ms"
        queue = "-" if w.mean_queue_us is None else f"{w.mean_queue_us / 1000:.2f} ms"
        return (
            f"{name} {w.requests:.0f} requests, {w.failure_rate:.2%} failed, "
            f"latency {latency}, queue {queue}"
        )

    return f"{side('canary', canary)}; {side('stable', stable)}"


def _failure_rate(settings: CanaryAnalysis, canary: Window, stable: Window) -> list[str]:
    found = []
    allowed = stable.failure_rate + settings.max_failure_rate_increase
    if canary.failure_rate > allowed:
        found.append(
            f"canary failure rate {canary.failure_rate:.2%} exceeds stable's "
            f"{stable.failure_rate:.2%} by more than {settings.max_failure_rate_increase:.2%}"
        )
    if settings.max_failure_rate is not None and canary.failure_rate > settings.max_failure_rate:
        found.append(
            f"canary failure rate {canary.failure_rate:.2%} exceeds {settings.max_failure_rate:.2%}"
        )
    return found


def _time(
    what: str,
    canary_us: float | None,
    stable_us: float | None,
    max_ratio: float,
    max_ms: float | None,
) -> list[str]:
    if canary_us is None:
        return []
    found = []
    if (
        stable_us is not None
        and canary_us - stable_us > NOISE_FLOOR_US
        and canary_us > stable_us * max_ratio
    ):
        found.append(
            f"canary {what} {canary_us / 1000:.2f} ms is more than {max_ratio:g} times "
            f"stable's {stable_us / 1000:.2f} ms"
        )
    if max_ms is not None and canary_us > max_ms * 1000:
        found.append(f"canary {what} {canary_us / 1000:.2f} ms exceeds {max_ms:g} ms")
    return found
