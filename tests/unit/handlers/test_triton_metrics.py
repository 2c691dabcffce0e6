"""Reading Triton's counters from the pods of a canary's two revisions, over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from modelship.core.names import REVISION
from modelship.handlers.triton_metrics import counters_of, scrape_revisions

# Triton's exposition, as `curl :8002/metrics` shows it (two models, one failure).
TRITON_TEXT = """\
# HELP nv_inference_request_success Number of successful inference requests, all batch sizes
# TYPE nv_inference_request_success counter
nv_inference_request_success{model="wine",version="1"} 120
nv_inference_request_success{model="other",version="1"} 5
# HELP nv_inference_request_failure Number of failed inference requests, all batch sizes
# TYPE nv_inference_request_failure counter
nv_inference_request_failure{model="wine",reason="BACKEND",version="1"} 3
# HELP nv_inference_request_duration_us Cumulative inference request duration in microseconds
# TYPE nv_inference_request_duration_us counter
nv_inference_request_duration_us{model="wine",version="1"} 600000
nv_inference_request_duration_us{model="other",version="1"} 25000
# HELP nv_inference_queue_duration_us Cumulative inference queuing duration in microseconds
# TYPE nv_inference_queue_duration_us counter
nv_inference_queue_duration_us{model="wine",version="1"} 1200
# HELP nv_gpu_utilization GPU utilization rate [0.0 - 1.0)
# TYPE nv_gpu_utilization gauge
nv_gpu_utilization{gpu_uuid="GPU-1"} 0.5
"""


def test_counters_are_summed_over_models() -> None:
    counters = counters_of(TRITON_TEXT)
    assert (counters.success, counters.failure) == (125, 3)
    assert counters.request_duration_us == 625000
    assert counters.queue_duration_us == 1200


def pod(revision: str, ip: str, ready: bool = True) -> dict[str, Any]:
    return {
        "metadata": {"name": f"{revision}-{ip}", "labels": {REVISION: revision}},
        "status": {
            "podIP": ip,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


@pytest_asyncio.fixture
async def triton_port() -> AsyncIterator[int]:
    """A metrics endpoint on 127.0.0.1 answering Triton's text."""

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(text=TRITON_TEXT, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield int(port)
    await runner.cleanup()


@pytest.mark.asyncio
async def test_each_revision_sums_its_ready_pods(triton_port: int) -> None:
    pods = [pod("v1", "127.0.0.1"), pod("v1", "127.0.0.1"), pod("v2", "127.0.0.1", ready=False)]
    read = await scrape_revisions(pods, ["v1", "v2"], port=triton_port)
    assert set(read) == {"v1"}  # v2 has no ready pod: not measured
    assert read["v1"].success == 250


@pytest.mark.asyncio
async def test_a_revision_with_a_pod_that_does_not_answer_is_left_out(triton_port: int) -> None:
    pods = [pod("v1", "127.0.0.1"), pod("v2", "127.0.0.1"), pod("v2", "127.0.0.9")]
    read = await scrape_revisions(pods, ["v1", "v2"], port=triton_port)
    assert set(read) == {"v1"}


@pytest.mark.asyncio
async def test_nothing_is_read_when_no_canary_runs() -> None:
    assert await scrape_revisions([pod("v1", "127.0.0.1")], []) == {}
