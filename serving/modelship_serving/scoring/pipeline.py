"""Overlapping a job's stages on the machine's cores: reading the next chunk, scoring this
one and committing the last run at the same time, each stage in order.

Threads suffice: pyarrow's reading and writing and onnxruntime's run release the GIL.
At most one chunk waits at each stage, so memory stays a few chunks whatever the table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

Item = TypeVar("Item")
_END = object()


def read_ahead(items: Iterator[Item]) -> Iterator[Item]:
    """``items``, each next one produced on another thread while the caller uses this one."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read") as reader:
        upcoming: Future[object] = reader.submit(next, items, _END)
        while True:
            item = upcoming.result()
            if item is _END:
                return
            upcoming = reader.submit(next, items, _END)
            yield item  # type: ignore[misc]


class InOrderWork:
    """Runs submitted work one after the other on one thread, while the caller goes on:
    ``submit`` waits for the work before last, so at most one runs behind the caller, and
    raises its error. Made by :func:`in_order_work`."""

    def __init__(self, worker: ThreadPoolExecutor) -> None:
        self._worker = worker
        self._pending: Future[None] | None = None

    def submit(self, work: Callable[[], None]) -> None:
        self.wait()
        self._pending = self._worker.submit(work)

    def wait(self) -> None:
        """Wait for the work submitted last; raise its error."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()


@contextmanager
def in_order_work(name: str) -> Iterator[InOrderWork]:
    """An :class:`InOrderWork` on a thread named ``name``. Leaving the ``with`` block
    finishes all work submitted, also when the caller fails (so everything handed over
    before a crash is done), and raises the first error of the work when the caller did
    not fail."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=name) as worker:
        work = InOrderWork(worker)
        yield work
        work.wait()
