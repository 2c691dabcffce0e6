"""A hostile pod's /metrics cannot make the operator read or parse without bound.

Any user who can create pods in a namespace can give one the labels the canary analysis
and the drift check select by. Proves, over real HTTP: an endless answer, an answer that
announces too many bytes and a gzip bomb are each cut at MAX_METRICS_BYTES (after gzip is
undone), long before the scrape timeout: the canary leaves the revision out and the drift
check says why; an answer within the bound is still read. The same holds for the
Prometheus a ModelDeployment names (its author chooses the url), whose answer of another
JSON shape is a revision not read rather than an error.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web
from modelship.core.names import REVISION
from modelship.handlers.drift_watch_metrics import scrape_window
from modelship.handlers.prometheus_metrics import query_revisions
from modelship.handlers.triton_metrics import (
    MAX_METRICS_BYTES,
    SCRAPE_TIMEOUT_SECONDS,
    scrape_revisions,
)

LINE = b'nv_inference_request_success{model="wine",version="1"} 1\n'
# Where the endless answer stops on its own, should the client not hang up (a failed test).
SERVER_GIVES_UP_BYTES = 64 * MAX_METRICS_BYTES


async def endless(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(request)
    block = LINE * 1000
    sent = 0
    try:
        while sent < SERVER_GIVES_UP_BYTES:
            await response.write(block)
            sent += len(block)
    except (ConnectionResetError, RuntimeError):
        pass  # the client hung up, as it should
    return response


async def announced(_: web.Request) -> web.Response:
    return web.Response(body=LINE * (MAX_METRICS_BYTES // len(LINE) + 10))


async def bomb(_: web.Request) -> web.Response:
    inflated = LINE * (8 * MAX_METRICS_BYTES // len(LINE))
    return web.Response(body=gzip.compress(inflated), headers={"Content-Encoding": "gzip"})


async def small(_: web.Request) -> web.Response:
    return web.Response(body=LINE * 3)


@pytest_asyncio.fixture(params=[endless, announced, bomb])
async def hostile_port(request: pytest.FixtureRequest) -> AsyncIterator[int]:
    async for port in _serving(request.param):
        yield port


@pytest_asyncio.fixture
async def small_port() -> AsyncIterator[int]:
    async for port in _serving(small):
        yield port


async def _serving(handler: object) -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_get("/metrics", handler)  # type: ignore[arg-type]
    app.router.add_get("/api/v1/query", handler)  # type: ignore[arg-type]
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield int(runner.addresses[0][1])
    await runner.cleanup()


def pod(revision: str) -> dict[str, object]:
    return {
        "metadata": {"name": revision, "labels": {REVISION: revision}},
        "status": {"podIP": "127.0.0.1", "conditions": [{"type": "Ready", "status": "True"}]},
    }


@pytest.mark.asyncio
async def test_an_oversized_answer_is_cut_at_the_bound(hostile_port: int) -> None:
    started = time.monotonic()
    reading = await scrape_window("127.0.0.1", hostile_port)
    counters = await scrape_revisions([pod("v1")], ["v1"], port=hostile_port)
    queried = await query_revisions(f"http://127.0.0.1:{hostile_port}", "ns", ["v1"])
    elapsed = time.monotonic() - started

    assert reading.window is None
    assert reading.problem is not None
    assert f"over {MAX_METRICS_BYTES} bytes" in reading.problem
    assert counters == {}
    assert queried == {}
    assert elapsed < SCRAPE_TIMEOUT_SECONDS  # cut at the bound, not by the timeout


@pytest.mark.asyncio
async def test_an_answer_within_the_bound_is_read(small_port: int) -> None:
    counters = await scrape_revisions([pod("v1")], ["v1"], port=small_port)
    assert counters["v1"].success == 3


@pytest.mark.parametrize(
    "answer",
    [b"[1, 2]", b'{"status": "success", "data": {"result": [1]}}', b'{"status": "success",'],
    ids=["a-list", "samples-not-objects", "cut-off"],
)
@pytest.mark.asyncio
async def test_a_prometheus_answer_of_another_shape_is_a_revision_not_read(answer: bytes) -> None:
    async def prometheus(_: web.Request) -> web.Response:
        return web.Response(body=answer, content_type="application/json")

    async for port in _serving(prometheus):
        assert await query_revisions(f"http://127.0.0.1:{port}", "ns", ["v1"]) == {}
