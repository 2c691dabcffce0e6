"""The mirror receiver's counting side: mirrored requests in, the window's drift out.

The gateway sends a copy of a share of a deployment's inference requests here
(`RequestMirror`) and ignores the answers. The front ends (`mirror_endpoints`) hand each
copy to `MirroredWindow.offer` and answer at once; a single worker thread reads the
copies' input tensors (`v2_requests`), counts them into the reference bins
(`counting`), keeps the counts over the rolling window (`window`) and drops the payload.
The queue between them is bounded in copies and in bytes, and the worker decodes at most
about two requests' worth of values before it counts them: what it cannot keep up with is
dropped and counted as skipped, so a burst (or anyone who reaches the Service) costs
neither the pod's memory nor the gateway's time.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from modelship_serving.drift_rules import MIN_WINDOW_ROWS
from modelship_serving.live_drift.counting import count_requests
from modelship_serving.live_drift.exposition import Snapshot
from modelship_serving.live_drift.judgement import judge_window
from modelship_serving.live_drift.traces import TracedRequest
from modelship_serving.live_drift.v2_requests import MAX_VALUES_PER_REQUEST, UnreadableRequestError
from modelship_serving.live_drift.window import RollingCounts
from modelship_serving.metadata import ModelMetadata

# Copies waiting to be counted; beyond this they are dropped.
QUEUE_SIZE = 4096
# Bytes of copies waiting to be counted; beyond this they are dropped (the pod has 512Mi).
MAX_PENDING_BYTES = 32 * 1024 * 1024
# The worker counts what came in over this long at once: one DataFrame per batch, not one
# per request (counting one request alone costs about 1 ms, one of 100 together 25 us).
# Payloads wait in memory no longer than this plus one count.
COUNT_INTERVAL_SECONDS = 0.25
DROP_LOG_SECONDS = 60.0

log = logging.getLogger(__name__)

ReadInputs = Callable[[], TracedRequest]
"""Reads one mirrored request's input tensors (or raises UnreadableRequestError)."""


class MirroredWindow:
    """Rolling-window drift of the mirrored inputs of one model."""

    def __init__(
        self,
        metadata: ModelMetadata,
        window_seconds: float,
        threshold: float,
        min_window_rows: int = MIN_WINDOW_ROWS,
        queue_size: int = QUEUE_SIZE,
        max_pending_bytes: int = MAX_PENDING_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.metadata = metadata
        self.threshold = threshold
        self.min_window_rows = min_window_rows
        self.wanted = frozenset(column.tensor_name for column in metadata.input_schema.columns)
        self._window = RollingCounts(metadata.reference_profile, window_seconds)
        self._clock = clock
        self._pending: queue.Queue[tuple[ReadInputs, int]] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self.max_pending_bytes = max_pending_bytes
        self._pending_bytes = 0
        self._last_drop_log = -DROP_LOG_SECONDS
        self.sampled_requests = 0
        self.skipped_requests = 0
        self.dropped_requests = 0
        self._worker = threading.Thread(target=self._count_forever, name="mirror-count")
        self._worker.daemon = True
        self._worker.start()

    def offer(self, read_inputs: ReadInputs, size: int = 0) -> None:
        """Queue one mirrored request (holding ``size`` bytes of payload) for counting; drop
        it when the queue is full in copies or in bytes."""
        with self._lock:
            if self._pending_bytes + size <= self.max_pending_bytes:
                try:
                    self._pending.put_nowait((read_inputs, size))
                except queue.Full:
                    pass
                else:
                    self._pending_bytes += size
                    return
            self.dropped_requests += 1
            self.skipped_requests += 1
            now = self._clock()
            if now - self._last_drop_log >= DROP_LOG_SECONDS:
                self._last_drop_log = now
                log.warning(
                    "mirrored requests arrive faster than they are counted: dropping"
                    " (%d so far); lower the mirror percent",
                    self.dropped_requests,
                )

    def has_room(self, size: int) -> bool:
        """Whether a copy of ``size`` bytes would be queued now (read it only then)."""
        with self._lock:
            return self._pending_bytes + size <= self.max_pending_bytes

    def wait_until_counted(self) -> None:
        """Block until every queued request has been counted (for tests and benchmarks)."""
        self._pending.join()

    def snapshot(self) -> Snapshot:
        """The window's counts and drift now, and the running totals."""
        with self._lock:
            counts = self._window.total(self._clock())
            sampled, skipped = self.sampled_requests, self.skipped_requests
        return Snapshot(
            counts=counts,
            report=judge_window(
                counts, self.metadata.reference_profile, self.threshold, self.min_window_rows
            ),
            sampled_requests=sampled,
            skipped_requests=skipped,
            trace_files=0,
        )

    def _count_forever(self) -> None:
        while True:
            batch = [self._pending.get()]
            time.sleep(COUNT_INTERVAL_SECONDS)
            while True:
                try:
                    batch.append(self._pending.get_nowait())
                except queue.Empty:
                    break
            try:
                self._count(batch)
            except Exception:  # never let one batch stop the counting
                log.exception("counting %d mirrored requests failed", len(batch))
                with self._lock:
                    self.skipped_requests += len(batch)
            finally:
                with self._lock:
                    self._pending_bytes -= sum(size for _, size in batch)
                for _ in batch:
                    self._pending.task_done()
                batch.clear()  # the payloads: counted, kept no longer

    def _count(self, batch: list[tuple[ReadInputs, int]]) -> None:
        requests: list[TracedRequest] = []
        decoded_values = unreadable = 0
        for read_inputs, _ in batch:
            try:
                request = read_inputs()
            except UnreadableRequestError as error:
                log.debug("skipped a mirrored request: %s", error)
                unreadable += 1
                continue
            except Exception:  # a body no rule foresaw: skipped like any unreadable one
                log.debug("skipped a mirrored request", exc_info=True)
                unreadable += 1
                continue
            requests.append(request)
            decoded_values += sum(len(values) for values in request.inputs.values())
            if decoded_values >= MAX_VALUES_PER_REQUEST:  # count before decoding more
                self._add(requests, unreadable)
                requests, decoded_values, unreadable = [], 0, 0
        self._add(requests, unreadable)

    def _add(self, requests: list[TracedRequest], unreadable: int) -> None:
        counts, skipped = count_requests(requests, self.metadata)
        with self._lock:
            self._window.add(counts, self._clock())
            self.sampled_requests += len(requests) - skipped
            self.skipped_requests += skipped + unreadable
