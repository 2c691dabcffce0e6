"""The sidecar's loop: read and delete Triton's trace files, count, judge, expose.

A trace file is read once Triton has finished it: a later file exists, or it has not
changed for `SETTLE_SECONDS`. It is deleted right after it is read, before its values
are counted, so raw inputs live only as long as one poll takes.

Triton stops tracing once its trace count runs out. The sidecar gives it a fresh budget
of traces after every poll: should the sidecar stop, Triton traces at most one budget
more, and the trace volume cannot fill up.
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from modelship_serving.drift_rules import MIN_WINDOW_ROWS
from modelship_serving.live_drift.counting import count_requests
from modelship_serving.live_drift.exposition import Snapshot
from modelship_serving.live_drift.judgement import judge_window
from modelship_serving.live_drift.traces import parse_trace_file
from modelship_serving.live_drift.window import RollingCounts
from modelship_serving.metadata import ModelMetadata

TRACE_FILE_NAME = "trace.json"
SETTLE_SECONDS = 1.0
GRANT_TIMEOUT_SECONDS = 2.0

log = logging.getLogger(__name__)


def _file_index(path: Path, file_name: str) -> int | None:
    match = re.fullmatch(re.escape(file_name) + r"\.(\d+)", path.name)
    return int(match[1]) if match else None


def finished_trace_files(
    directory: Path, wall_now: float, file_name: str = TRACE_FILE_NAME
) -> list[Path]:
    """Trace files Triton has finished writing, oldest first."""
    indexed = sorted(
        (index, path)
        for path in directory.iterdir()
        if (index := _file_index(path, file_name)) is not None
    )
    if not indexed:
        return []
    finished = [path for _, path in indexed[:-1]]
    newest = indexed[-1][1]
    try:
        if newest.stat().st_mtime <= wall_now - SETTLE_SECONDS:
            finished.append(newest)
    except FileNotFoundError:
        pass
    return finished


def grant_trace_budget(triton_http: str, traces: int) -> bool:
    """Let Triton trace ``traces`` more requests (its trace count); False if it did not answer."""
    request = urllib.request.Request(
        f"http://{triton_http}/v2/trace/setting",
        data=json.dumps({"trace_count": str(traces)}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=GRANT_TIMEOUT_SECONDS) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


class DriftWatch:
    """Rolling-window drift of the traced inputs of one model."""

    def __init__(
        self,
        metadata: ModelMetadata,
        trace_directory: Path,
        window_seconds: float,
        threshold: float,
        file_name: str = TRACE_FILE_NAME,
        min_window_rows: int = MIN_WINDOW_ROWS,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.metadata = metadata
        self.trace_directory = trace_directory
        self.threshold = threshold
        self.file_name = file_name
        self.min_window_rows = min_window_rows
        self._window = RollingCounts(metadata.reference_profile, window_seconds)
        self._clock = clock
        self._wall_clock = wall_clock
        self.sampled_requests = 0
        self.skipped_requests = 0
        self.trace_files = 0
        self.snapshot = self._judge()

    def poll(self) -> int:
        """Read, delete and count every finished trace file; how many there were."""
        files = finished_trace_files(self.trace_directory, self._wall_clock(), self.file_name)
        for path in files:
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            finally:
                path.unlink(missing_ok=True)
            requests = parse_trace_file(text)
            del text
            counts, skipped = count_requests(requests, self.metadata)
            self._window.add(counts, self._clock())
            self.sampled_requests += len(requests) - skipped
            self.skipped_requests += skipped
            self.trace_files += 1
        self.snapshot = self._judge()
        return len(files)

    def _judge(self) -> Snapshot:
        counts = self._window.total(self._clock())
        return Snapshot(
            counts=counts,
            report=judge_window(
                counts, self.metadata.reference_profile, self.threshold, self.min_window_rows
            ),
            sampled_requests=self.sampled_requests,
            skipped_requests=self.skipped_requests,
            trace_files=self.trace_files,
        )


def run_watch(
    watch: DriftWatch,
    triton_http: str,
    trace_budget: int,
    poll_seconds: float,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Poll until ``should_stop``, granting Triton a fresh trace budget after each poll."""
    while not should_stop():
        try:
            watch.poll()
        except OSError as error:  # a vanished or unreadable file: the next poll goes on
            log.warning("reading traces failed: %s", error)
        if not grant_trace_budget(triton_http, trace_budget):
            log.debug("Triton at %s did not take the trace budget (yet)", triton_http)
        time.sleep(poll_seconds)
