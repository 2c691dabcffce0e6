"""A canary rollout end to end: the real operator against the emulated API server, real Triton
processes as the stable and canary revisions' pods (127.0.0.2 and 127.0.0.3, whose pod IPs
the emulated pods carry), and real traffic split by the HTTPRoute weights the operator writes
(the test plays the gateway). The operator reads each Triton's metrics itself, or, with the
prometheus provider, from a real Prometheus scraping them.

The failing canary is the same model; the gateway sends it requests of which about 5% carry
text its backend fails on, so Triton itself counts the failures the analysis judges. The slow
canary is the same model served by a Triton whose backend sleeps before answering, so
Triton's own duration counters carry the latency the analysis judges.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import tritonclient.http as triton_http
from lightkube.generic_resource import create_namespaced_resource
from modelship.builders.defaults import METRICS_PORT
from modelship_serving.triton.server import TritonServer
from prometheus_client.parser import text_string_to_metric_families
from support import canary_tritons
from support.canary_tritons import (
    CANARY_ADDRESS,
    STABLE_ADDRESS,
    Gateway,
    canary_of_v2,
    package,
    serve,
    serve_pod,
    tritons,
)
from support.harness import EmulatedCluster
from support.prometheus_server import PrometheusServer
from support.scenarios import (
    MD_API,
    Obj,
    condition,
    deployments,
    get,
    wait_for,
)

NS = "ml"
# So that lightkube can read the routes the operator writes.
create_namespaced_resource("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes")
# Each rollout must end (promoted or rolled back) within this.
ROLLOUT_SECONDS = 90.0
SPEC: dict[str, Any] = {
    "serving": {"replicas": 1},
    "rollout": {
        "strategy": "Canary",
        "canary": {
            "steps": [{"weight": 20, "pause": "0s"}, {"weight": 50, "pause": "0s"}],
            "analysis": {
                "interval": "4s",
                "minRequests": 50,
                "failureLimit": 1,
                # Two Tritons share a busy test machine: latency is judged loosely here.
                "maxLatencyRatio": 3,
                "maxQueueTimeRatio": 5,
            },
            "traffic": {"router": "gatewayAPI", "parentRefs": [{"name": "gateway"}]},
        },
    },
}
# The slow canary's wait before each answer: many times stable's latency on a busy machine.
SLOW_SECONDS = 0.05


def canary_spec(**analysis: Any) -> dict[str, Any]:
    """SPEC with these canary analysis settings changed."""
    canary = SPEC["rollout"]["canary"]
    changed = {**canary, "analysis": {**canary["analysis"], **analysis}}
    return {**SPEC, "rollout": {**SPEC["rollout"], "canary": changed}}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, TritonServer]]:
    with tritons(package(tmp_path_factory.mktemp("canary"))) as started:
        yield started


@pytest.fixture
def slow_canary(
    servers: dict[str, TritonServer], tmp_path: Path
) -> Iterator[dict[str, TritonServer]]:
    """The canary's address served by the slow variant of the model for one test; the
    usual canary Triton comes back after it."""
    usual = servers[CANARY_ADDRESS].settings.repository
    servers[CANARY_ADDRESS].stop()
    slow = serve(package(tmp_path, delay_seconds=SLOW_SECONDS), CANARY_ADDRESS)
    try:
        yield {**servers, CANARY_ADDRESS: slow}
    finally:
        slow.stop()
        servers[CANARY_ADDRESS] = serve(usual, CANARY_ADDRESS)


def route_weights(cluster: EmulatedCluster) -> dict[str, int]:
    return canary_tritons.route_weights(cluster, NS, "wine")


def client(server: TritonServer) -> triton_http.InferenceServerClient:
    assert server.endpoints is not None
    return triton_http.InferenceServerClient(server.endpoints.http)


def roll_out(
    cluster: EmulatedCluster,
    servers: dict[str, TritonServer],
    canary_failing: float,
    spec: dict[str, Any] = SPEC,
    on_revisions: Callable[[str, str], None] = lambda stable, canary: None,
) -> tuple[Obj, list[int], Gateway]:
    """v1 serves; v2 rolls out as a canary under traffic until the operator decides. Returns
    the ModelDeployment then, the canary weights the gateway saw in turn, and the gateway.
    `on_revisions` learns the stable and canary revisions' names once both exist."""
    stable, canary = canary_of_v2(cluster, NS, spec, STABLE_ADDRESS)
    cluster.make_available(canary)
    serve_pod(cluster, canary, CANARY_ADDRESS)
    names = stable["metadata"]["name"], canary["metadata"]["name"]
    on_revisions(*names)
    gateway = Gateway(
        clients={
            names[0]: client(servers[STABLE_ADDRESS]),
            names[1]: client(servers[CANARY_ADDRESS]),
        },
        canary=names[1],
        canary_failing=canary_failing,
    )
    seen: list[int] = []
    deadline = time.monotonic() + ROLLOUT_SECONDS
    while time.monotonic() < deadline:
        md = get(cluster, MD_API, "ModelDeployment", NS, "wine") or {}
        status = md.get("status") or {}
        promoted = (status.get("stable") or {}).get("version") == "2"
        rolled_back = condition(md, "Degraded").get("reason") == "CanaryFailed"
        if promoted or rolled_back:
            return md, seen, gateway
        weights = route_weights(cluster)
        if weights.get(names[1]) and (not seen or seen[-1] != weights[names[1]]):
            seen.append(weights[names[1]])
        gateway.send(weights, 0.25)
    raise AssertionError(f"no decision within {ROLLOUT_SECONDS:.0f}s; weights seen {seen}")


def test_a_healthy_canary_is_promoted_through_every_step(
    cluster: EmulatedCluster, servers: dict[str, TritonServer]
) -> None:
    md, seen, gateway = roll_out(cluster, servers, canary_failing=0.0)
    # Promotion sends the canary everything a moment before status names it stable, so the
    # last glimpse of the route may be that 100.
    assert seen in ([20, 50], [20, 50, 100]), "the gateway saw each step's weight in turn"
    status = md["status"]
    assert status["stable"]["name"] == gateway.canary
    assert [(h["version"], h["outcome"]) for h in status["history"]] == [
        ("2", "Serving"),
        ("1", "Superseded"),
    ]
    assert condition(md, "Degraded")["status"] == "False"
    assert gateway.sent[gateway.canary][0] >= 100, "the canary was judged on real requests"
    wait_for(
        "the route to send everything to the promoted revision",
        lambda: route_weights(cluster) == {gateway.canary: 100},
    )


def test_a_canary_failing_five_percent_of_requests_is_rolled_back(
    cluster: EmulatedCluster, servers: dict[str, TritonServer]
) -> None:
    md, seen, gateway = roll_out(cluster, servers, canary_failing=0.05)
    assert gateway.canary is not None
    ok, failed = gateway.sent[gateway.canary]
    assert 0.01 < failed / (ok + failed) < 0.15, "about 5% of the canary's requests failed"
    degraded = condition(md, "Degraded")
    assert degraded["status"] == "True"
    assert "canary failure rate" in degraded["message"]
    assert condition(md, "Ready")["status"] == "True", "the stable revision serves on"
    assert md["status"]["stable"]["version"] == "1"
    assert [(h["version"], h["outcome"]) for h in md["status"]["history"]][:2] == [
        ("2", "RolledBack"),
        ("1", "Serving"),
    ]
    stable = md["status"]["stable"]["name"]
    wait_for(
        "the route to send everything back to stable",
        lambda: route_weights(cluster) == {stable: 100},
    )
    wait_for(
        "the canary to be scaled down",
        lambda: [d["metadata"]["name"] for d in deployments(cluster, NS, "wine")] == [stable],
    )
    assert seen[:1] == [20]


def test_a_canary_much_slower_than_stable_is_rolled_back(
    cluster: EmulatedCluster, slow_canary: dict[str, TritonServer]
) -> None:
    # A slow canary serves fewer of the gateway's sequential requests in an interval.
    md, seen, gateway = roll_out(cluster, slow_canary, 0.0, canary_spec(minRequests=20))
    assert gateway.canary is not None
    ok, failed = gateway.sent[gateway.canary]
    assert failed == 0, "the slow canary answered every request it got"
    assert ok >= 20, "the slow canary was judged on real requests"
    degraded = condition(md, "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "CanaryFailed")
    assert "canary mean latency" in degraded["message"], degraded["message"]
    assert condition(md, "Ready")["status"] == "True", "the stable revision serves on"
    assert md["status"]["stable"]["version"] == "1"
    assert md["status"]["history"][0]["outcome"] == "RolledBack"
    stable = md["status"]["stable"]["name"]
    wait_for(
        "the route to send everything back to stable",
        lambda: route_weights(cluster) == {stable: 100},
    )
    assert seen == [20], "the slow canary never got past its first step"


def test_with_the_prometheus_provider_a_canary_failing_five_percent_is_rolled_back(
    cluster: EmulatedCluster, servers: dict[str, TritonServer], tmp_path: Path
) -> None:
    """The operator reads the counters from a real Prometheus scraping the Tritons, never
    from the pods: Prometheus learns the pods' names (its file discovery) once they exist."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus is not installed: run hack/install-prometheus.sh")
    targets = tmp_path / "targets.json"
    targets.write_text("[]")
    scrape = {"job_name": "triton", "file_sd_configs": [{"files": [str(targets)]}]}

    def discovered(stable: str, canary: str) -> None:
        found = [
            {
                "targets": [f"{address}:{METRICS_PORT}"],
                "labels": {"namespace": NS, "pod": f"{name}-pod"},  # as serve_pod names it
            }
            for name, address in ((stable, STABLE_ADDRESS), (canary, CANARY_ADDRESS))
        ]
        targets.write_text(json.dumps(found))

    with PrometheusServer(binary, [scrape]) as prometheus:
        spec = canary_spec(provider={"type": "prometheus", "url": prometheus.url})
        md, _, gateway = roll_out(cluster, servers, 0.05, spec, discovered)
        answer = prometheus.query(f'nv_inference_request_failure{{pod="{gateway.canary}-pod"}}')
        with urllib.request.urlopen(f"{prometheus.url}/metrics", timeout=10) as response:
            served = text_string_to_metric_families(response.read().decode())
        queries = sum(
            sample.value
            for family in served
            for sample in family.samples
            if sample.name == "prometheus_http_requests_total"
            and sample.labels.get("handler") == "/api/v1/query"
        )
    degraded = condition(md, "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "CanaryFailed")
    assert "canary failure rate" in degraded["message"]
    assert answer["data"]["result"], "Prometheus scraped the canary's Triton"
    # Two revisions a measurement, at least two measurements, besides the test's own query.
    assert queries >= 5, "the operator read the counters from Prometheus"
    assert md["status"]["stable"]["version"] == "1"
