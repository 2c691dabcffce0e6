"""The committed chunks of one scoring job, kept where the job's next attempt finds them.

A work directory holds ``state.json`` (which job this is), and per chunk
``chunk-NNNNNNNN.counts.json`` (its drift counts, written first) and
``chunk-NNNNNNNN.arrow`` (its predictions as an Arrow IPC file, renamed into place):
a chunk is committed once its .arrow file is there. (Arrow IPC rather than Parquet: only
the job reads them back, whole, and IPC writes in a fifth of Parquet's CPU time, for
about twice the bytes.) ``output.json`` records the assembled
output's sha256 and manifest just before the output is published.

For an output in object storage the work directory is only scratch space (a
Kubernetes Job retries in a new pod, with a new /tmp), so it is mirrored to the
hidden prefix ``.OUT.partial/`` beside the output: each chunk is uploaded as it is
committed (counts first), in order, and an attempt with an empty work directory
downloads the committed chunks of the same job from there. The mirror is the truth:
a chunk counts as committed only once uploaded.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from modelship_serving.errors import ModelshipServingError, ScoringError
from modelship_serving.scoring.destination import (
    Destination,
    LocalDestination,
    atomic_write_text,
)

logger = logging.getLogger(__name__)

STATE = "state.json"
OUTPUT = "output.json"


def chunk_name(index: int) -> str:
    return f"chunk-{index:08d}.arrow"


def counts_name(index: int) -> str:
    return f"chunk-{index:08d}.counts.json"


class PartialResults:
    """Committed chunks in ``work``, mirrored to the folder ``mirror`` when given."""

    def __init__(self, work: Path, mirror: Destination | None = None) -> None:
        self.work = work
        self.mirror = mirror
        self._mirrored = 0  # chunks 0.._mirrored-1 are in the mirror

    def chunk(self, index: int) -> Path:
        return self.work / chunk_name(index)

    def counts(self, index: int) -> Path:
        return self.work / counts_name(index)

    def _read(self, name: str) -> Any:
        """A record from where the truth is: the mirror when there is one."""
        text = (self.mirror or LocalDestination(self.work)).read_text(name)
        return None if text is None else json.loads(text)

    def recorded_output(self, state: dict[str, Any]) -> dict[str, Any] | None:
        """What this job recorded of its output before publishing it; None for another job."""
        if self._read(STATE) != state:
            return None
        recorded: dict[str, Any] | None = self._read(OUTPUT)
        return recorded

    def begin(self, state: dict[str, Any]) -> None:
        """Take over the committed chunks of the same job; discard those of any other job."""
        self.work.mkdir(parents=True, exist_ok=True)
        local_state = self.work / STATE
        if local_state.is_file() and json.loads(local_state.read_text()) != state:
            logger.info("discarding partial results of a different job in %s", self.work)
            for entry in [*self.work.glob("chunk-*"), self.work / OUTPUT]:
                entry.unlink(missing_ok=True)
        atomic_write_text(local_state, json.dumps(state, indent=2))
        if self.mirror is None:
            return
        mirror = self.mirror
        count = self._mirrored_count()
        if self._read(STATE) != state:
            if count:
                logger.info("discarding partial results of a different job in %s", mirror)
            self._delete_mirror(count, keep_state=True)
            mirror.put_file(local_state, STATE)
            return
        self._mirrored = count
        for index in range(count):
            # A local copy is complete when present (renamed into place); fetch the rest.
            if not self.chunk(index).is_file():
                mirror.get_file(counts_name(index), self.counts(index))
                mirror.get_file(chunk_name(index), self.chunk(index))
        if count:
            logger.info("resuming from %d chunk(s) committed in %s", count, mirror.show())

    def is_committed(self, index: int) -> bool:
        if self.mirror is not None:
            return index < self._mirrored
        return self.chunk(index).is_file() and self.counts(index).is_file()

    def commit(self, index: int, write_chunk: Any, counts_json: str) -> None:
        """Commit chunk ``index``: ``write_chunk(path)`` writes its predictions."""
        atomic_write_text(self.counts(index), counts_json)
        temporary = self.work / f".{chunk_name(index)}.tmp"
        write_chunk(temporary)
        temporary.replace(self.chunk(index))
        if self.mirror is not None:
            if index != self._mirrored:
                raise ScoringError(f"internal error: chunk {index} committed out of order")
            self.mirror.put_file(self.counts(index), counts_name(index))
            self.mirror.put_file(self.chunk(index), chunk_name(index))
            self._mirrored += 1

    def record_output(self, recorded: dict[str, Any]) -> None:
        """Record the assembled output (sha256, manifest, drift) before it is published."""
        path = self.work / OUTPUT
        atomic_write_text(path, json.dumps(recorded, indent=2, default=str))
        if self.mirror is not None:
            self.mirror.put_file(path, OUTPUT)

    def remove(self) -> None:
        """Delete the work directory and the mirror (best effort: the job is already done)."""
        shutil.rmtree(self.work, ignore_errors=True)
        if self.mirror is not None:
            try:
                self._delete_mirror(self._mirrored_count(), keep_state=False)
                self.mirror.rm_tree()  # what a store keeps of the folder itself
            except ModelshipServingError as error:
                logger.warning("could not delete %s: %s", self.mirror.show(), error)

    def _mirrored_count(self) -> int:
        """How many chunks, from the first on, the mirror holds."""
        assert self.mirror is not None
        count = 0
        while self.mirror.exists(chunk_name(count)):
            count += 1
        return count

    def _delete_mirror(self, count: int, keep_state: bool) -> None:
        # Last chunk first: an interrupted delete leaves chunks 0..k, still a prefix,
        # and the old state, so the next attempt finishes the job.
        assert self.mirror is not None
        self.mirror.rm_file(OUTPUT)
        for index in reversed(range(count)):
            self.mirror.rm_file(chunk_name(index))
            self.mirror.rm_file(counts_name(index))
        if not keep_state:
            self.mirror.rm_file(STATE)
        self._mirrored = 0
