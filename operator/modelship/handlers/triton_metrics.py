"""Read Triton's request counters from each ready pod of a canary's two revisions.

The counters are inputs of the canary's pure analysis; reading them is the only I/O.
Each pod's Prometheus text (its metrics port) is parsed with prometheus_client's
parser and summed over the pod's models, then over the revision's ready pods. A
revision with a pod that does not answer in time is left out: a partial sum would
look like counters that went down.

Any pod in the namespace can carry the labels we select by, so what a pod answers is
bounded: in time (the scrape timeout) and in size (MAX_METRICS_BYTES, after gzip is
undone), which also bounds the parser's time on the operator's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from modelship.api.model_deployment_status import RequestCounters
from modelship.builders.defaults import METRICS_PORT
from modelship.core.names import REVISION

# Triton's counter families (Prometheus names without _total) and the field each sums into.
COUNTERS = {
    "nv_inference_request_success": "success",
    "nv_inference_request_failure": "failure",
    "nv_inference_request_duration_us": "request_duration_us",
    "nv_inference_queue_duration_us": "queue_duration_us",
}
# A pod's metrics must answer within this, or its revision is not measured this time.
SCRAPE_TIMEOUT_SECONDS = 3.0
# A pod's metrics text is read up to this many bytes; a longer answer is not parsed (Triton
# answers tens of KiB for a few models; parsing 1 MiB takes about 0.15 s).
MAX_METRICS_BYTES = 1024 * 1024
_CHUNK_BYTES = 64 * 1024


def counters_of(text: str) -> RequestCounters:
    """Triton's counters in one Prometheus text exposition, summed over models and versions."""
    sums = dict.fromkeys(COUNTERS.values(), 0.0)
    for family in text_string_to_metric_families(text):
        field = COUNTERS.get(family.name)
        if field is None:
            continue
        for sample in family.samples:
            if sample.name in (family.name, f"{family.name}_total"):
                sums[field] += sample.value
    return RequestCounters(**sums)


def ready_pod_ips(pods: Iterable[Mapping[str, Any]], revision: str) -> list[str]:
    """Addresses of a revision's pods whose Ready condition is True."""
    found = []
    for pod in pods:
        status = pod.get("status") or {}
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or []
        )
        ip = status.get("podIP")
        if pod["metadata"].get("labels", {}).get(REVISION) == revision and ready and ip:
            found.append(str(ip))
    return found


async def scrape_revisions(
    pods: Sequence[Mapping[str, Any]], revisions: Iterable[str], port: int = METRICS_PORT
) -> dict[str, RequestCounters]:
    """Each revision's counters summed over its ready pods; a revision not read is left out."""
    ips = {revision: ready_pod_ips(pods, revision) for revision in revisions}
    return await read_each(ips, lambda session, revision: _revision(session, ips[revision], port))


async def read_each(
    revisions: Iterable[str],
    read: Callable[[aiohttp.ClientSession, str], Awaitable[RequestCounters | None]],
) -> dict[str, RequestCounters]:
    """``read`` each revision's counters at once in one session bounded by the scrape
    timeout; a revision read as None is left out."""
    wanted = list(revisions)
    if not wanted:
        return {}
    timeout = aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        counters = await asyncio.gather(*(read(session, revision) for revision in wanted))
    return {revision: c for revision, c in zip(wanted, counters, strict=True) if c is not None}


async def _revision(
    session: aiohttp.ClientSession, ips: Sequence[str], port: int
) -> RequestCounters | None:
    if not ips:
        return None
    texts = await asyncio.gather(*(_text(session, ip, port) for ip in ips))
    if any(text is None for text in texts):
        return None
    each = [counters_of(text) for text in texts if text is not None]
    return RequestCounters(
        success=sum(c.success for c in each),
        failure=sum(c.failure for c in each),
        request_duration_us=sum(c.request_duration_us for c in each),
        queue_duration_us=sum(c.queue_duration_us for c in each),
    )


async def read_metrics_text(response: aiohttp.ClientResponse) -> str | None:
    """The text of a metrics answer (a pod's /metrics, a Prometheus query), or None where it
    is longer than MAX_METRICS_BYTES (read no further than that)."""
    if (response.content_length or 0) > MAX_METRICS_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
        size += len(chunk)
        if size > MAX_METRICS_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


def metrics_url(ip: str, port: int) -> str:
    """The /metrics address of a pod (an IPv6 address bracketed)."""
    host = f"[{ip}]" if ":" in ip else ip
    return f"http://{host}:{port}/metrics"


async def _text(session: aiohttp.ClientSession, ip: str, port: int) -> str | None:
    try:
        async with session.get(metrics_url(ip, port)) as response:
            if response.status != 200:
                return None
            return await read_metrics_text(response)
    except (aiohttp.ClientError, TimeoutError):
        return None
