"""A scoring job's input as pieces, and which pieces each shard of a sharded job scores.

The input is one table (a file or object) or a dataset: a local directory, or a prefix in
s3/gs/az (a uri ending in ``/``, or one that names a prefix holding objects), holding files
of one format, possibly hive-partitioned (``region=eu/day=3/part-0.parquet``). Its files are
found by Arrow's dataset discovery (modelship_serving.storage.discovery): files and folders
whose names start with ``.`` or ``_`` are skipped (``_SUCCESS``, ``.crc``). A piece is one
file, or, when a single Parquet file is shared among shards, one of its row groups. Pieces
are in the order of their paths, so every pod of a Job lists the same pieces and the
assignment by shard index needs no coordination.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote

from modelship_serving.errors import ScoringError
from modelship_serving.fetch.uri import redact_uri
from modelship_serving.scoring import remote
from modelship_serving.scoring.destination import (
    Destination,
    LocalDestination,
    ObjectStoreDestination,
)
from modelship_serving.scoring.formats import TableFormat, local_path, table_format
from modelship_serving.storage.discovery import discovered_files


@dataclass(frozen=True)
class Piece:
    """A file of the input (relative to its folder), or some row groups of it."""

    file: str
    identity: str  # what changes when the file does
    row_groups: tuple[int, ...] | None = None
    first_row: int = 0  # the number, in its file, of the piece's first row

    @property
    def partition(self) -> dict[str, str]:
        """The hive keys in the file's folders (``region=eu`` -> region: eu), as text."""
        keys: dict[str, str] = {}
        for folder in PurePosixPath(self.file).parts[:-1]:
            name, equals, value = folder.partition("=")
            if equals and name:
                keys[unquote(name)] = unquote(value)
        return keys


@dataclass(frozen=True)
class InputDataset:
    """The input's folder, format and files (one for a single table)."""

    folder: Destination
    format: TableFormat
    files: tuple[Piece, ...]
    is_dataset: bool  # a folder of files rather than one table

    def show(self, name: str = "") -> str:
        return self.folder.show(name)

    def name_in_folder(self, file: str) -> str:
        """How the folder names the file ``file``: object keys are quoted in uris (a hive
        value may hold a '%' or a space)."""
        return quote(file) if isinstance(self.folder, ObjectStoreDestination) else file


def is_dataset_uri(uri: str) -> bool:
    """Whether ``uri`` names a folder of files: a uri ending in ``/``, a local folder, or an
    object-store prefix that holds objects (``s3://lake/events``, as Spark writes them)."""
    if uri.endswith("/"):
        return True
    if remote.is_remote(uri):
        return remote.is_folder(uri)
    return local_path(uri).is_dir()


def _local_files(root: Path, folder: LocalDestination) -> list[tuple[str, str]]:
    from pyarrow.fs import LocalFileSystem

    names = discovered_files(LocalFileSystem(), str(root))
    return [(name, folder.content_identity(name, root / name)) for name in names]


def _format_of(names: list[str], given: TableFormat | None, shown: str) -> TableFormat:
    if given is not None:
        return given
    formats = {table_format(Path(name)) for name in names}
    if len(formats) > 1:
        raise ScoringError(
            f"input {shown} holds files of several formats ({', '.join(sorted(formats))}):"
            " keep one format per dataset, or name it with --input-format"
        )
    return formats.pop()


def list_input(uri: str, given: TableFormat | None) -> InputDataset:
    """The dataset at ``uri`` (see the module docstring) and its files, in path order."""
    shown = redact_uri(uri)
    folder: Destination
    if remote.is_remote(uri):
        folder = ObjectStoreDestination(uri.rstrip("/"))
        kept = remote.dataset_files(uri)
    else:
        root = local_path(uri)
        if not root.is_dir():
            raise ScoringError(f"input {shown} is not a folder; give a folder of files")
        folder = LocalDestination(root)
        kept = _local_files(root, folder)
    if given is None:
        kept = [(name, identity) for name, identity in kept if _has_table_suffix(name)]
    if not kept:
        raise ScoringError(
            f"input {shown} holds no .csv, .parquet or .jsonl files; nothing was scored"
        )
    fmt = _format_of([name for name, _ in kept], given, shown)
    pieces = tuple(Piece(name, identity) for name, identity in kept)
    return InputDataset(folder, fmt, pieces, is_dataset=True)


def _has_table_suffix(name: str) -> bool:
    try:
        table_format(Path(name))
    except ScoringError:
        return False
    return True


def row_group_pieces(file: Piece, row_counts: list[int]) -> list[Piece]:
    """The file's row groups, one piece each, numbered from their first row in the file."""
    pieces, first = [], 0
    for group, rows in enumerate(row_counts):
        pieces.append(Piece(file.file, file.identity, (group,), first))
        first += rows
    return pieces


def shard_pieces(pieces: list[Piece], shards: int, index: int) -> list[int]:
    """The positions of the pieces shard ``index`` of ``shards`` scores: every ``shards``-th
    from ``index`` on, so that files next to each other (often of similar size) spread
    over the shards, and every piece is in exactly one shard."""
    check_shard_index(index, shards)
    return list(range(index, len(pieces), shards))


def check_shard_index(index: int, shards: int) -> None:
    """ScoringError unless ``index`` names one of ``shards`` shards."""
    if not 0 <= index < shards:
        raise ScoringError(f"shard index {index} is not between 0 and {shards - 1}")
