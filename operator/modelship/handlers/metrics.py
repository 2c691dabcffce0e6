"""The operator's own Prometheus metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RECONCILES = Counter(
    "modelship_reconciles_total",
    "Reconciles run, by kind and by what triggered them.",
    ["kind", "trigger"],
)
RECONCILE_ERRORS = Counter(
    "modelship_reconcile_errors_total",
    "Reconciles that failed and will be retried, by kind and error.",
    ["kind", "error"],
)
RECONCILE_SECONDS = Histogram(
    "modelship_reconcile_duration_seconds",
    "Time one reconcile takes, gather to status write.",
    ["kind"],
)
WRITES = Counter(
    "modelship_api_writes_total",
    "Objects created, patched or deleted, and status writes.",
    ["kind", "verb"],
)
MANAGED = Gauge(
    "modelship_managed_objects",
    "Custom resources the operator manages, by kind.",
    ["kind"],
)


def serve(address: str, port: int) -> None:
    """Serve /metrics from a background thread."""
    start_http_server(port, addr=address)
