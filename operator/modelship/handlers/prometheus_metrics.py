"""Read Triton's request counters of a canary's two revisions from Prometheus.

The second analysis provider (`analysis.provider.type: prometheus`): instead of
scraping each pod, ask the Prometheus at `url` with PromQL for the same counters,
summed over each revision's pods (scoped as the KEDA queries are: the namespace and a
pod-name regex). The pure analysis takes the increase between two readings, so an
instant sum of the counters is exactly what the pod scraper produces; a pod that goes
away makes the sum go down and restarts the window, as with the scraper. A revision
Prometheus has no series for, or that it does not answer for in time, is left out.

`url` is the ModelDeployment author's to choose: the answer is read as the pod scraper
reads a pod's (at most MAX_METRICS_BYTES, within the scrape timeout), and an answer of
any other shape is a revision not read, never an error in the operator.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp

from modelship.api.model_deployment_status import RequestCounters
from modelship.handlers.triton_metrics import COUNTERS, read_each, read_metrics_text


def counters_query(namespace: str, revision: str) -> str:
    """PromQL: each of Triton's four counters summed over the revision's pods."""
    names = "|".join(COUNTERS)
    pods = f'namespace="{namespace}",pod=~"{revision}-.*"'
    return f'sum by (__name__) ({{__name__=~"{names}",{pods}}})'


def counters_of(answer: Mapping[str, Any]) -> RequestCounters | None:
    """The counters in a /api/v1/query answer (a vector by __name__); None: no series."""
    if answer.get("status") != "success":
        return None
    samples = (answer.get("data") or {}).get("result") or []
    sums = dict.fromkeys(COUNTERS.values(), 0.0)
    for sample in samples:
        field = COUNTERS.get(sample["metric"].get("__name__", ""))
        if field is not None:
            sums[field] += float(sample["value"][1])
    return RequestCounters(**sums) if samples else None


async def query_revisions(
    url: str, namespace: str, revisions: Iterable[str]
) -> dict[str, RequestCounters]:
    """Each revision's counters, as Prometheus has them now; a revision not read is left out."""
    return await read_each(
        revisions,
        lambda session, revision: _query(session, url, counters_query(namespace, revision)),
    )


async def _query(session: aiohttp.ClientSession, url: str, query: str) -> RequestCounters | None:
    try:
        async with session.get(
            f"{url.rstrip('/')}/api/v1/query", params={"query": query}
        ) as response:
            if response.status != 200:
                return None
            text = await read_metrics_text(response)
        return None if text is None else counters_of(json.loads(text))
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None
    except (AttributeError, KeyError, TypeError, IndexError):  # JSON of another shape
        return None
