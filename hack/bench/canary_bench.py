"""How fast canary analysis rolls back a canary failing 5% of requests, and how often it rolls
back a healthy one, for modelship's defaults beside Argo Rollouts' and Flagger's (not a test).

Two real Tritons (tests/support/canary_tritons.py) play the stable and canary revisions' pods
on 127.0.0.2 and 127.0.0.3; the gateway of test_canary sends generated traffic split by the
canary's weight (the first default step, 10%: the fewest canary requests an analysis judges);
a failing canary gets requests of which about 5% carry text its backend fails on, so Triton
counts the failures itself. Every interval the counters are read as the operator reads them
(scrape_revisions on each revision's ready pods' metrics port) and the same readings are
judged by every policy:

- modelship: its pure analysis (judge) with the API's default thresholds, counting failed
  measurements as the canary strategy does (Tally: rollback at one more failed measurement
  than failureLimit tolerates on the failure rate, or latencyFailureLimit on timings alone;
  a window with too few canary requests grows instead of being judged), with the defaults
  (1 and 2), one limit of 1 for both, and the earlier default of 2 for both;
- Argo Rollouts and Flagger: the canary's success rate over the interval, as their documented
  Prometheus queries compute it (Triton answers a failed inference with HTTP 500, which their
  `response_code!~"5.*"` queries count as a failure), against their documented thresholds
  and failure limits (cited beside each policy below). They judge the canary alone; latency
  is left out for them (their duration checks need histograms or a mesh).

A failing canary is watched until every policy rolled it back or --max-intervals passed; a
healthy canary (the same model, no failing requests) is watched for --healthy-intervals.
The interval is a few seconds of traffic here, not the minute real rollouts use: what counts
is the number of canary requests each interval carries, which the report prints.

    PYTHONPATH=tests .venv/bin/python hack/bench/canary_bench.py --interval 3

(needs tritonserver, as the integration tests do; PYTHONPATH=tests makes tests/support
importable as `support`.)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import tritonclient.http as triton_http
from modelship.api.model_deployment_status import AnalysisOutcome, RequestCounters
from modelship.api.rollout import CanaryAnalysis
from modelship.core.names import REVISION
from modelship.handlers.triton_metrics import scrape_revisions
from modelship.reconcile.rollout.analysis import Tally, judge, window
from support.canary_tritons import CANARY_ADDRESS, STABLE_ADDRESS, Gateway, package, tritons

STABLE, CANARY = "wine-stable", "wine-canary"
CANARY_WEIGHT = 10  # the first of the API's default steps (10%, then 50%)
FAILING_SHARE = 0.05


class Policy(Protocol):
    name: str

    def start(self, stable: RequestCounters, canary: RequestCounters) -> None: ...

    def rolls_back(self, stable: RequestCounters, canary: RequestCounters) -> bool:
        """One interval's reading; True when the policy rolls the canary back now."""
        ...


@dataclass
class Modelship:
    """The canary strategy's accounting around modelship's pure analysis (canary.measure)."""

    name: str
    settings: CanaryAnalysis
    window_start: tuple[RequestCounters, RequestCounters] | None = None
    tally: Tally = field(default_factory=Tally)
    failures: list[str] = field(default_factory=list)  # each failed measurement's message

    def start(self, stable: RequestCounters, canary: RequestCounters) -> None:
        self.window_start, self.tally, self.failures = (stable, canary), Tally(), []

    def rolls_back(self, stable: RequestCounters, canary: RequestCounters) -> bool:
        assert self.window_start is not None
        stable_window = window(self.window_start[0], stable)
        canary_window = window(self.window_start[1], canary)
        verdict = judge(self.settings, canary_window, stable_window)
        too_few = verdict.outcome == AnalysisOutcome.INCONCLUSIVE and None not in (
            canary_window,
            stable_window,
        )
        if not too_few:  # too few requests: the window grows until there are enough
            self.window_start = (stable, canary)
        if verdict.outcome == AnalysisOutcome.FAILED:
            self.failures.append(verdict.message)
        self.tally = self.tally.counted(verdict)
        return self.tally.exhausted(self.settings)


@dataclass
class SuccessRate:
    """A success-rate check of the canary alone over each interval, rolled back at the
    `failed_checks_to_roll_back`-th failed check. No requests gives NaN, which fails: Argo's
    `result >= 0.95` is false on NaN, Flagger counts "no values found" as a failed check."""

    name: str
    min_success_rate: float
    failed_checks_to_roll_back: int
    last: RequestCounters | None = None
    failed: int = 0

    def start(self, stable: RequestCounters, canary: RequestCounters) -> None:
        self.last, self.failed = canary, 0

    def rolls_back(self, stable: RequestCounters, canary: RequestCounters) -> bool:
        assert self.last is not None
        success = canary.success - self.last.success
        requests = success + canary.failure - self.last.failure
        self.last = canary
        if requests <= 0 or success / requests < self.min_success_rate:
            self.failed += 1
        return self.failed >= self.failed_checks_to_roll_back


def modelship(failure_limit: int, latency_failure_limit: int) -> Modelship:
    """modelship's default thresholds with these failure limits."""
    limits = CanaryAnalysis(
        failure_limit=failure_limit, latency_failure_limit=latency_failure_limit
    )
    default = " (the defaults)" if limits == CanaryAnalysis() else ""
    name = f"modelship, failureLimit {failure_limit}, latencyFailureLimit {latency_failure_limit}"
    return Modelship(name + default, limits)


def policies() -> list[Policy]:
    return [
        *(modelship(*limits) for limits in ((1, 2), (1, 1), (2, 2))),
        # argo-rollouts docs/features/analysis.md, "Background Analysis": the success-rate
        # AnalysisTemplate, `successCondition: result[0] >= 0.95`, over
        # `sum(irate(istio_requests_total{...,response_code!~"5.*"}[5m])) / sum(irate(...))`;
        # "ConsecutiveSuccessLimit and FailureLimit": "with `failureLimit` having a default
        # value of `0`, so no failures are tolerated" (analysis/analysis.go:
        # `result.Failed > failureLimit` fails the run, which aborts the rollout).
        SuccessRate("Argo Rollouts defaults (>= 0.95, failureLimit 0)", 0.95, 1),
        # The same template as the docs show it, with `failureLimit: 3`.
        SuccessRate("Argo Rollouts docs example (>= 0.95, failureLimit 3)", 0.95, 4),
        # flagger docs/gitbook/usage/metrics.md, "Builtin metrics": request-success-rate,
        # "minimum req success rate (non 5xx responses)", `thresholdRange: min: 99`,
        # `interval: 1m`; how-it-works.md: `threshold` is the "max number of failed metric
        # checks before rollback"; pkg/apis/flagger/v1beta1/canary.go GetAnalysisThreshold
        # "returns the canary threshold (default 1)" and scheduler.go rolls back when
        # `FailedChecks >= GetAnalysisThreshold()`.
        SuccessRate("Flagger defaults (>= 99%, threshold 1)", 0.99, 1),
        # how-it-works.md's example Canary: `threshold: 10`.
        SuccessRate("Flagger docs example (>= 99%, threshold 10)", 0.99, 10),
    ]


def pod(name: str, revision: str, ip: str) -> dict[str, Any]:
    """A ready pod of `revision` at `ip`, as the operator lists it."""
    return {
        "metadata": {"name": name, "labels": {REVISION: revision}},
        "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]},
    }


PODS = [pod(f"{STABLE}-0", STABLE, STABLE_ADDRESS), pod(f"{CANARY}-0", CANARY, CANARY_ADDRESS)]


def read_counters() -> tuple[RequestCounters, RequestCounters]:
    """Both revisions' counters, read as the operator reads them."""
    read = asyncio.run(scrape_revisions(PODS, [STABLE, CANARY]))
    return read[STABLE], read[CANARY]


@dataclass
class Run:
    """One canary watched interval by interval by every policy."""

    rolled_back_at: dict[str, int]  # policy name: the interval (1-based) it rolled back at
    canary_requests: list[float]  # per interval
    canary_failure_rates: list[float]
    failure_messages: dict[str, list[str]]  # modelship policies' failed measurements


def watch(
    gateway: Gateway, watched: Sequence[Policy], intervals: int, seconds: float, busy: float
) -> Run:
    """Each interval: traffic for `busy` of it, then quiet; then every policy judges."""
    stable, canary = read_counters()
    for policy in watched:
        policy.start(stable, canary)
    rolled_back: dict[str, int] = {}
    requests, rates = [], []
    for interval in range(1, intervals + 1):
        gateway.send({STABLE: 100 - CANARY_WEIGHT, CANARY: CANARY_WEIGHT}, seconds * busy)
        time.sleep(seconds * (1 - busy))
        stable_now, canary_now = read_counters()
        served = window(canary, canary_now)
        assert served is not None, "the canary Triton's counters went down"
        requests.append(served.requests)
        rates.append(served.failure_rate)
        canary = canary_now
        for policy in watched:
            if policy.name not in rolled_back and policy.rolls_back(stable_now, canary_now):
                rolled_back[policy.name] = interval
        if len(rolled_back) == len(watched):
            break
    messages = {p.name: p.failures for p in watched if isinstance(p, Modelship)}
    return Run(rolled_back, requests, rates, messages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=3.0, help="seconds of traffic each")
    parser.add_argument("--failing", type=int, default=10, help="failing canaries to watch")
    parser.add_argument("--healthy", type=int, default=20, help="healthy canaries to watch")
    parser.add_argument("--max-intervals", type=int, default=12, help="per failing canary")
    parser.add_argument("--healthy-intervals", type=int, default=5, help="per healthy canary")
    parser.add_argument(
        "--baseline", type=float, default=0.0, help="share of every revision's requests failing"
    )
    parser.add_argument(
        "--busy", type=float, default=1.0, help="share of each interval with traffic (less: fewer)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as work, tritons(package(Path(work))) as servers:
        gateway = Gateway(clients={}, canary=CANARY)
        for name, address in ((STABLE, STABLE_ADDRESS), (CANARY, CANARY_ADDRESS)):
            endpoints = servers[address].endpoints
            assert endpoints is not None
            gateway.clients[name] = triton_http.InferenceServerClient(endpoints.http)
        gateway.send({STABLE: 50, CANARY: 50}, 2.0)  # warm both up

        gateway.others_failing = args.baseline
        gateway.canary_failing = args.baseline + FAILING_SHARE
        failing = []
        for n in range(args.failing):
            run = watch(gateway, policies(), args.max_intervals, args.interval, args.busy)
            failing.append(run)
            print(f"failing canary {n + 1}: {failing[-1].rolled_back_at}", flush=True)
        gateway.canary_failing = args.baseline
        healthy = []
        for n in range(args.healthy):
            run = watch(gateway, policies(), args.healthy_intervals, args.interval, args.busy)
            healthy.append(run)
            print(f"healthy canary {n + 1}: {healthy[-1].rolled_back_at}", flush=True)
    report(args, failing, healthy)


def report(args: argparse.Namespace, failing: list[Run], healthy: list[Run]) -> None:
    every = [*failing, *healthy]
    per_interval = [r for run in every for r in run.canary_requests]
    failed_rates = [r for run in failing for r in run.canary_failure_rates]
    print(
        f"\n{args.interval:g} s intervals ({args.busy:.0%} of each with traffic) at "
        f"{CANARY_WEIGHT}% canary weight, {args.baseline:.1%} of every revision's requests "
        "failing besides the failing canary's 5%: "
        f"{statistics.median(per_interval):.0f} canary requests an interval (median; "
        f"{min(per_interval):.0f} to {max(per_interval):.0f}); failing canaries failed "
        f"{statistics.mean(failed_rates):.2%} of theirs (intervals from "
        f"{min(failed_rates):.2%} to {max(failed_rates):.2%})\n"
    )
    print(
        f"| policy | failing canary rolled back at interval (median, worst; {len(failing)} "
        f"canaries, cap {args.max_intervals}) | within 2 intervals | false rollbacks in "
        f"{len(healthy)} healthy canaries ({args.healthy_intervals} intervals each) |"
    )
    print("|---|---|---|---|")
    for policy in policies():
        at = [run.rolled_back_at.get(policy.name) for run in failing]
        caught = sorted(a for a in at if a is not None)
        missed = len(at) - len(caught)
        if caught:
            median = statistics.median_low(caught)
            worst = f"> {args.max_intervals}" if missed else str(caught[-1])
            detect = f"{median}, {worst}" + (f" ({missed} not within the cap)" if missed else "")
        else:
            detect = f"none within {args.max_intervals}"
        within = sum(1 for a in caught if a <= 2)
        false = sum(1 for run in healthy if policy.name in run.rolled_back_at)
        print(f"| {policy.name} | {detect} | {within}/{len(failing)} | {false}/{len(healthy)} |")
    defaults = CanaryAnalysis()
    default_policy = modelship(defaults.failure_limit, defaults.latency_failure_limit).name
    for n, run in enumerate(healthy, 1):
        for message in run.failure_messages[default_policy]:
            print(f"healthy canary {n}, a failed modelship measurement: {message}")


if __name__ == "__main__":
    main()
