"""How much a fetch may write and how long it may take, counted as it goes.

Every byte a fetch writes below the destination (a downloaded archive, the files it holds,
the files of a copied directory or object-store prefix) is charged to one budget, so the
model volume needs room for ``max_bytes`` at most. A file is charged its size rounded up to
whole 4 KiB blocks and a directory one block, as a disk holds them (archive members also
count each directory on their path): this also bounds an archive of millions of empty
files. An archive member is charged its declared size before it is written, a download as
its bytes arrive, so a fetch stops as soon as the limit is passed, never after filling the
disk. The deadline covers the whole fetch, retries included; no network read waits past it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from modelship_serving.errors import FetchError

DEFAULT_MAX_BYTES = 20 * 1024**3
DEFAULT_TIMEOUT_SECONDS = 30 * 60.0
BLOCK_BYTES = 4096
# The longest one network read may wait; the overall deadline shortens it further.
READ_TIMEOUT_SECONDS = 60.0
CHUNK_BYTES = 1 << 20


class FetchLimitError(FetchError):
    """The fetch wrote more than its byte limit or ran past its deadline; never retried."""


def disk_bytes(size: int) -> int:
    """``size`` rounded up to whole blocks, at least one block (an inode and its entry)."""
    return max(1, -(-size // BLOCK_BYTES)) * BLOCK_BYTES


@dataclass
class FetchBudget:
    """The bytes left to write and the moment the fetch must end, for one fetch."""

    max_bytes: int = DEFAULT_MAX_BYTES
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    used_bytes: int = 0
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        if self.max_bytes < 1:
            raise FetchError(f"the byte limit must be positive, not {self.max_bytes}")
        if self.timeout_seconds <= 0:
            raise FetchError(f"the timeout must be positive, not {self.timeout_seconds}s")
        self.deadline = time.monotonic() + self.timeout_seconds

    def remaining_seconds(self) -> float:
        return self.deadline - time.monotonic()

    def check_time(self, doing: str) -> None:
        """FetchLimitError once the deadline has passed."""
        if self.remaining_seconds() <= 0:
            raise FetchLimitError(
                f"the fetch did not finish within {self.timeout_seconds:g}s ({doing}); the"
                " source is too slow or stalled: raise the fetch timeout"
                " (modelship fetch --timeout-seconds) if it is just large. Nothing was installed."
            )

    def read_timeout(self) -> float:
        """The socket timeout for the next network read: never past the deadline."""
        return max(0.05, min(READ_TIMEOUT_SECONDS, self.remaining_seconds()))

    def ensure_room(self, size: int, what: str) -> None:
        """FetchLimitError when ``size`` more bytes would pass the limit (a declared size,
        checked before anything is written)."""
        if self.used_bytes + size > self.max_bytes:
            raise FetchLimitError(
                f"{what} takes the fetch past its limit of {self.max_bytes} bytes on disk;"
                " the source is larger than a model repository should be (an archive bomb?)"
                " or the limit is too small: raise it (modelship fetch --max-bytes)."
                " Nothing was installed."
            )

    def charge(self, size: int, what: str) -> None:
        """Count ``size`` more bytes written; FetchLimitError when that passes the limit."""
        self.ensure_room(size, what)
        self.used_bytes += size

    def sleep(self, seconds: float) -> None:
        """Wait between retries, never past the deadline (the next attempt then stops)."""
        time.sleep(max(0.0, min(seconds, self.remaining_seconds())))

    def refund(self, size: int) -> None:
        """Give back bytes charged for a file that was removed (a retried download)."""
        self.used_bytes -= size

    @contextmanager
    def writer(self, destination: Path, what: str) -> Iterator[BudgetedWriter]:
        """A file at ``destination`` whose writes are charged as they come, the deadline
        checked between them; on failure its charge is given back (the caller retries or
        abandons the staging directory)."""
        with destination.open("wb") as stream:
            counted = BudgetedWriter(stream, self, what)
            try:
                yield counted
            except BaseException:
                self.refund(counted.charged)
                raise

    def write_stream(self, chunks: Iterable[bytes], destination: Path, what: str) -> int:
        """Write ``chunks`` to ``destination`` under the budget; returns the byte count."""
        with self.writer(destination, what) as stream:
            for chunk in chunks:
                stream.write(chunk)
        return stream.written

    def copy_file(self, source: BinaryIO, destination: Path, what: str) -> int:
        """Copy an open file's bytes to ``destination`` under the budget."""
        return self.write_stream(iter(lambda: source.read(CHUNK_BYTES), b""), destination, what)


class BudgetedWriter:
    """A writable binary stream that charges a FetchBudget before each write lands."""

    def __init__(self, stream: BinaryIO, budget: FetchBudget, what: str) -> None:
        self.stream = stream
        self.budget = budget
        self.what = what
        self.written = 0
        self.charged = 0

    def write(self, chunk: bytes) -> int:
        self.budget.check_time(f"downloading {self.what}")
        needed = disk_bytes(self.written + len(chunk))
        if needed > self.charged:
            self.budget.charge(needed - self.charged, self.what)
            self.charged = needed
        self.written += len(chunk)
        return self.stream.write(chunk)

    def tell(self) -> int:
        return self.written

    def flush(self) -> None:
        self.stream.flush()


def unlimited() -> FetchBudget:
    """A budget for callers that set no limits (one object a scoring job reads)."""
    return FetchBudget(max_bytes=2**62, timeout_seconds=10.0 * 365 * 24 * 3600)


def mkdir_charged(directory: Path, budget: FetchBudget, what: str) -> None:
    """Create ``directory`` (and missing parents), one block each."""
    missing = [d for d in (directory, *directory.parents) if not d.exists()]
    for created in reversed(missing):
        budget.charge(BLOCK_BYTES, what)
        os.mkdir(created)
