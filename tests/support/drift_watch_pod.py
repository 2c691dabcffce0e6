"""What a drift-watch pod shows on its metrics port, built from real counts: a reference
profile of the churn table, a window of rows drawn like it (or shifted), counted and judged
by modelship_serving's own code and exposed by its SnapshotCollector; and a server on a
loopback address standing in for the pod."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from modelship_serving.drift import BatchCounts
from modelship_serving.live_drift.exposition import Snapshot, SnapshotCollector
from modelship_serving.live_drift.judgement import judge_window
from modelship_serving.profile import ReferenceProfile, profile_frame
from prometheus_client import CollectorRegistry, generate_latest

from support.sklearn_models import mixed_frame

INCOME_STD = 12_000.0  # mixed_frame draws income from N(50000, 12000)
NUMERIC, CATEGORICAL = ["age", "income"], ["city", "plan"]


@cache
def churn_reference() -> ReferenceProfile:
    return profile_frame(mixed_frame(2000, 1), NUMERIC, CATEGORICAL)


def window_metrics(
    rows: int,
    revision: str,
    income_shift_in_std: float = 0.0,
    seed: int = 7,
    threshold: float = 0.2,
    min_rows: int = 400,
) -> str:
    """drift-watch's /metrics text for a window of ``rows`` requests' rows of the churn table,
    income moved by that many standard deviations."""
    reference = churn_reference()
    frame = mixed_frame(rows, seed)
    frame["income"] = frame["income"] + income_shift_in_std * INCOME_STD
    counts = BatchCounts.empty(reference)
    counts.add_frame(frame, reference)
    report = judge_window(counts, reference, threshold, min_rows)
    snapshot = Snapshot(counts, report, sampled_requests=rows, skipped_requests=0, trace_files=0)
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(lambda: snapshot, "churn", revision))
    return generate_latest(registry).decode()


@contextmanager
def metrics_server(host: str, port: int, text: Callable[[], str | None]) -> Iterator[None]:
    """Serves ``text()`` at http://host:port/metrics (None: HTTP 503) in a thread."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = text()
            if self.path != "/metrics" or body is None:
                self.send_response(503)
                self.end_headers()
                return
            payload = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer((host, port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
