"""Read the drift-watch pod's window (mirrored live drift) when a live check is due.

The pod is found by its labels (one API list, while its Deployment exists); while none is
ready its pods come back as they are, for why it cannot start; its metrics are read from
the pod's address as the canary analysis reads Triton's (same client, timeout and size
bound) and parsed with prometheus_client's parser into the plain window
reconcile/mirrored_drift.py judges. Nothing here decides: a read that fails
comes back as its reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from modelship.api.model_deployment import ModelDeployment
from modelship.api.model_deployment_status import DriftStatus
from modelship.builders.defaults import DRIFT_METRICS_PORT
from modelship.builders.drift_watch import drift_watch_name, drift_watch_selector, mirrored_drift
from modelship.handlers.runtime import Runtime
from modelship.handlers.triton_metrics import (
    MAX_METRICS_BYTES,
    SCRAPE_TIMEOUT_SECONDS,
    metrics_url,
    read_metrics_text,
)
from modelship.reconcile.mirrored_drift import (
    FeatureWindow,
    LiveReading,
    LiveWindow,
    check_due,
)

# drift-watch's metric families (modelship_serving/live_drift/exposition.py's names).
PSI = "modelship_live_drift_psi"
P_VALUE = "modelship_live_drift_p_value"
WINDOW_ROWS = "modelship_live_drift_window_rows"
# status.drift lists a feature by a name of at most this many characters.
MAX_FEATURE_NAME = 128


async def read_live_drift(
    runtime: Runtime,
    spec: ModelDeployment | ValidationError,
    children: Sequence[Mapping[str, Any]],
    previous: DriftStatus | None,
    now: datetime,
) -> tuple[datetime | None, LiveReading]:
    """Since when the drift-watch pod is ready, and its window where a check is due (its
    pods, while none is ready)."""
    if isinstance(spec, ValidationError) or mirrored_drift(spec) is None:
        return None, LiveReading()
    name = drift_watch_name(spec)
    deployment = next(
        (c for c in children if c["kind"] == "Deployment" and c["metadata"]["name"] == name),
        None,
    )
    if deployment is None:
        return None, LiveReading()
    namespace = spec.metadata.namespace
    pods = await runtime.kube.list("v1", "Pod", namespace, drift_watch_selector(spec.metadata.name))
    if not (deployment.get("status") or {}).get("readyReplicas"):
        return None, LiveReading(pods=pods)
    ready = sorted(
        (since, ip)
        for pod in pods
        if (found := ready_since(pod)) is not None
        for since, ip in [found]
    )
    if not ready:
        return None, LiveReading(pods=pods)
    since, ip = ready[-1]
    due = check_due(spec, previous, since)
    if due is None or now < due:
        return since, LiveReading()
    return since, await scrape_window(ip)


def ready_since(pod: Mapping[str, Any]) -> tuple[datetime, str] | None:
    """When a pod became Ready, and its address; None while it is not ready."""
    status = pod.get("status") or {}
    ip = status.get("podIP")
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready" and condition.get("status") == "True" and ip:
            at = condition.get("lastTransitionTime")
            if isinstance(at, str):
                return datetime.fromisoformat(at), str(ip)
    return None


async def scrape_window(ip: str, port: int = DRIFT_METRICS_PORT) -> LiveReading:
    """The pod's window, or why it could not be read."""
    timeout = aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT_SECONDS)
    url = metrics_url(ip, port)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url) as response,
        ):
            if response.status != 200:
                return LiveReading(problem=f"{url} answered HTTP {response.status}")
            text = await read_metrics_text(response)
        if text is None:
            return LiveReading(problem=f"{url} answered over {MAX_METRICS_BYTES} bytes of metrics")
    except TimeoutError:
        return LiveReading(problem=f"{url} did not answer within {SCRAPE_TIMEOUT_SECONDS:g} s")
    except aiohttp.ClientError as error:
        return LiveReading(problem=f"{url}: {error}")
    window = live_window(text)
    return LiveReading(problem=window) if isinstance(window, str) else LiveReading(window=window)


def live_window(text: str) -> LiveWindow | str:
    """drift-watch's window in a Prometheus text exposition, or why it holds none."""
    try:
        families = {family.name: family for family in text_string_to_metric_families(text)}
    except ValueError as error:
        return f"its metrics are not Prometheus text ({error})"
    rows = families.get(WINDOW_ROWS)
    if rows is None or not rows.samples:
        # drift-watch shows nothing until it has loaded the reference profile.
        return f"it shows no {WINDOW_ROWS} yet"
    window = rows.samples[0]
    if not math.isfinite(window.value) or window.value < 0:
        return f"its {WINDOW_ROWS} is {window.value}, not a count of rows"
    revision = window.labels.get("revision", "")
    psi = _by_feature(families.get(PSI), revision)
    p_values = _by_feature(families.get(P_VALUE), revision)
    features = {
        name: FeatureWindow(value, p_values.get(name, math.nan))
        for name, value in psi.items()
        if math.isfinite(value)
    }
    return LiveWindow(revision, int(window.value), features)


def _by_feature(family: Any, revision: str) -> dict[str, float]:
    if family is None:
        return {}
    return {
        sample.labels["feature"][:MAX_FEATURE_NAME]: float(sample.value)
        for sample in family.samples
        if "feature" in sample.labels and sample.labels.get("revision") == revision
    }
