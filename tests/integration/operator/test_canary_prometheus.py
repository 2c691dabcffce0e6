"""The Prometheus analysis provider against a real Prometheus (Debian's) scraping two real
Tritons as a canary's stable and canary revisions (127.0.0.2 and 127.0.0.3), their series
labelled with a namespace and pod as Prometheus's Kubernetes discovery labels them.

The provider must read the same counters the pod scraper reads, so that the pure
analysis judges them alike: here a canary failing about 5% of its requests fails.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator

import pytest
import tritonclient.http as triton_http
from modelship.api.model_deployment_status import AnalysisOutcome, RequestCounters
from modelship.api.rollout import CanaryAnalysis
from modelship.builders.defaults import METRICS_PORT
from modelship.handlers.prometheus_metrics import query_revisions
from modelship.handlers.triton_metrics import scrape_revisions
from modelship.reconcile.rollout.analysis import judge, window
from modelship_serving.triton.server import TritonServer
from support.canary_tritons import CANARY_ADDRESS, STABLE_ADDRESS, Gateway, package, tritons
from support.prometheus_server import PrometheusServer

NS = "ml"
STABLE, CANARY = "wine-1a2b3c4d5e", "wine-6f7a8b9c0d"
ADDRESSES = {STABLE: STABLE_ADDRESS, CANARY: CANARY_ADDRESS}
TRAFFIC_SECONDS = 6.0
# Prometheus scrapes every second; its readings must match the pods' within this.
CATCH_UP_SECONDS = 20.0


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, TritonServer]]:
    with tritons(package(tmp_path_factory.mktemp("canary-prometheus"))) as started:
        yield started


@pytest.fixture
def prometheus() -> Iterator[PrometheusServer]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip(
            "prometheus is not installed: run hack/install-prometheus.sh (hack/test.sh does)"
        )
    scrape = {
        "job_name": "triton",
        "static_configs": [
            {
                "targets": [f"{address}:{METRICS_PORT}"],
                "labels": {"namespace": NS, "pod": f"{revision}-5d8f7c9b4-x2k1p"},
            }
            for revision, address in ADDRESSES.items()
        ],
    }
    with PrometheusServer(binary, [scrape]) as server:
        yield server


def pods() -> list[dict[str, object]]:
    """The revisions' pods as the API server has them: ready, at the Tritons' addresses."""
    return [
        {
            "metadata": {"name": f"{revision}-pod", "labels": {"modelship.dev/revision": revision}},
            "status": {"podIP": address, "conditions": [{"type": "Ready", "status": "True"}]},
        }
        for revision, address in ADDRESSES.items()
    ]


def from_prometheus(url: str) -> dict[str, RequestCounters]:
    return asyncio.run(query_revisions(url, NS, [STABLE, CANARY]))


def from_pods() -> dict[str, RequestCounters]:
    return asyncio.run(scrape_revisions(pods(), [STABLE, CANARY]))


def caught_up(url: str) -> dict[str, RequestCounters]:
    """Prometheus's reading once it equals the pods' own (nothing is sent meanwhile)."""
    deadline = time.monotonic() + CATCH_UP_SECONDS
    while time.monotonic() < deadline:
        read, truth = from_prometheus(url), from_pods()
        if read == truth and len(read) == 2:
            return read
        time.sleep(0.5)
    raise AssertionError(f"Prometheus read {read}, the pods say {truth}")


def test_prometheus_gives_the_scraper_s_counters_and_the_analysis_fails_a_5_percent_canary(
    servers: dict[str, TritonServer], prometheus: PrometheusServer
) -> None:
    start = caught_up(prometheus.url)
    gateway = Gateway(
        clients={
            revision: triton_http.InferenceServerClient(servers[address].endpoints.http)
            for revision, address in ADDRESSES.items()
        },
        canary=CANARY,
        canary_failing=0.05,
    )
    gateway.send({STABLE: 50, CANARY: 50}, TRAFFIC_SECONDS)
    end = caught_up(prometheus.url)

    canary, stable = window(start[CANARY], end[CANARY]), window(start[STABLE], end[STABLE])
    assert canary is not None
    assert stable is not None
    assert (canary.success, canary.failure) == tuple(gateway.sent[CANARY])
    assert (stable.success, stable.failure) == tuple(gateway.sent[STABLE])
    assert canary.mean_latency_us is not None
    assert canary.mean_latency_us > 0
    verdict = judge(CanaryAnalysis(min_requests=50), canary, stable)
    assert verdict.outcome == AnalysisOutcome.FAILED
    assert "canary failure rate" in verdict.message


def test_a_revision_prometheus_has_no_series_for_or_cannot_answer_is_left_out(
    prometheus: PrometheusServer,
) -> None:
    assert asyncio.run(query_revisions(prometheus.url, NS, ["wine-0000000000"])) == {}
    assert asyncio.run(query_revisions(prometheus.url, "elsewhere", [STABLE])) == {}
    assert asyncio.run(query_revisions("http://127.0.0.1:9", NS, [STABLE])) == {}
