"""Where a dataset or sharded scoring job publishes, and the work it keeps meanwhile: each
shard's committed chunks and commit marker under the job's work directory, mirrored beside an
s3/gs/az output so the shard that publishes can read the others' (see `sharded`)."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelship_serving.errors import ModelshipServingError, ScoringError
from modelship_serving.fetch.uri import redact_uri
from modelship_serving.scoring import remote
from modelship_serving.scoring.destination import (
    Destination,
    LocalDestination,
    Location,
    atomic_write_text,
    locate,
)
from modelship_serving.scoring.formats import TableFormat, table_format
from modelship_serving.scoring.output import MANIFEST_SUFFIX, partial_folder
from modelship_serving.scoring.partial import PartialResults, chunk_name
from modelship_serving.scoring.settings import ScoreManifest, ScoreSettings

logger = logging.getLogger(__name__)

DATASET_MANIFEST = "_manifest.json"
DATASET_DRIFT = "_drift.json"
OUTPUT_RECORD = "output.json"
_EXTENSIONS: dict[TableFormat, str] = {"csv": ".csv", "parquet": ".parquet", "jsonl": ".jsonl"}


def shard_folder(index: int, shards: int) -> str:
    return f"shard-{index:05d}-of-{shards:05d}"


def part_name(piece: int, fmt: TableFormat) -> str:
    return f"part-{piece:05d}{_EXTENSIONS[fmt]}"


@dataclass(frozen=True)
class ShardedOutput:
    """Where the job publishes (a table, or a dataset folder) and keeps its work."""

    location: Location  # the table, or the dataset folder, in the folder above it
    dataset: bool
    format: TableFormat
    shown: str
    work: Path  # the job's work directory on this machine
    mirror: Destination | None  # where it is kept beside an s3/gs/az output

    @property
    def folder(self) -> Destination:
        """The dataset's folder."""
        return self.location.folder.child(self.location.name)

    def beside(self, record: str) -> tuple[Destination, str]:
        """Where the manifest or drift report (``MANIFEST_SUFFIX``/``DRIFT_SUFFIX``) goes."""
        if self.dataset:
            return self.folder, DATASET_MANIFEST if record == MANIFEST_SUFFIX else DATASET_DRIFT
        return self.location.folder, self.location.name + record

    def write_beside(self, record: str, text: str) -> None:
        folder, name = self.beside(record)
        folder.write_text(name, text)

    def published_manifest(self) -> ScoreManifest | None:
        folder, name = self.beside(MANIFEST_SUFFIX)
        text = folder.read_text(name)
        return None if text is None else ScoreManifest.model_validate_json(text)

    def is_visible(self) -> bool:
        """Whether anything is published at the output (a table, or files in the folder)."""
        if not self.dataset:
            return self.location.folder.exists(self.location.name)
        folder = self.folder
        if isinstance(folder, LocalDestination):
            return folder.folder.is_dir() and any(folder.folder.iterdir())
        return bool(remote.list_objects(folder.show() + "/"))

    def read(self, name: str) -> Any:
        """A record of the job's work directory, from the mirror when there is one."""
        text = (self.mirror or LocalDestination(self.work)).read_text(name)
        return None if text is None else json.loads(text)

    def write(self, name: str, record: dict[str, Any]) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.work / name, json.dumps(record, indent=2, default=str))
        if self.mirror is not None:
            self.mirror.put_file(self.work / name, name)

    def shard(self, index: int, shards: int) -> PartialResults:
        name = shard_folder(index, shards)
        return PartialResults(
            self.work / name, None if self.mirror is None else self.mirror.child(name)
        )

    def remove_work(self) -> None:
        """Delete the work directory and its mirror (best effort: the job is done)."""
        shutil.rmtree(self.work, ignore_errors=True)
        if self.mirror is None:
            return
        try:
            self.mirror.rm_tree()
        except ModelshipServingError as error:
            logger.warning("could not delete %s: %s", self.mirror.show(), error)


def sharded_output(settings: ScoreSettings, scratch: Path) -> ShardedOutput:
    dataset = settings.output_uri.endswith("/")
    location = locate(settings.output_uri.rstrip("/"))
    fmt = settings.output_format if dataset else table_format(Path(location.file_name))
    work, mirror = location.folder.partial_work(
        partial_folder(location.name), settings.work_dir, scratch
    )
    return ShardedOutput(location, dataset, fmt, redact_uri(settings.output_uri), work, mirror)


def chunk_file(output: ShardedOutput, shard: int, shards: int, chunk: int) -> Path:
    """A committed chunk of any shard, on this machine (downloaded from the mirror when
    another pod committed it)."""
    partial = output.shard(shard, shards)
    path = partial.chunk(chunk)
    if not path.is_file():
        if partial.mirror is None:
            raise ScoringError(f"internal error: committed chunk {path} is missing")
        partial.mirror.get_file(chunk_name(chunk), path)
    return path
