"""Unpacking (and writing) tar archives of a model repository: only files and directories.

Extraction is bounded (see modelship_serving.fetch.limits): each member's declared size is
charged before it is written, so an archive bomb stops at the limit. A truncated archive is
refused whatever brought it: a member cut short, a missing end-of-archive marker (the zero
block every tar writer ends with; without it a plain .tar cut at a member boundary would look
complete) and, for compressed archives, a missing or wrong gzip/bzip2/xz trailer.
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any, Self

from modelship_serving.errors import FetchError, one_line
from modelship_serving.fetch.limits import (
    BLOCK_BYTES,
    CHUNK_BYTES,
    FetchBudget,
    FetchLimitError,
    disk_bytes,
)

# The zero block ending an archive; tarfile does not export its class (nor do its stubs).
_EOF_HEADER: type[Exception] = tarfile.EOFHeaderError  # type: ignore[attr-defined]


class _StrictTarInfo(tarfile.TarInfo):
    """A TarInfo whose reading refuses an archive that ends without its end-of-archive marker
    or has a damaged header after the first: tarfile alone treats both as a normal end."""

    @classmethod
    def fromtarfile(cls, tarfile_: tarfile.TarFile) -> Self:
        try:
            return super().fromtarfile(tarfile_)
        except _EOF_HEADER:
            raise  # the zero block that ends the archive
        except tarfile.HeaderError as error:
            if tarfile_.offset == 0:
                raise
            raise tarfile.ReadError(
                f"it ends or is damaged at byte {tarfile_.offset} before its end-of-archive"
                f" marker ({error}): it was truncated"
            ) from None


def _extract_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, destination: Path, budget: FetchBudget
) -> None:
    budget.check_time(f"extracting {member.name}")
    # Each directory on the path counts (tarfile creates missing ones), the member itself too.
    parents = max(0, len(Path(member.name).parts) - 1)
    size = BLOCK_BYTES if member.isdir() else disk_bytes(member.size)
    budget.charge(parents * BLOCK_BYTES + size, member.name)
    # The "data" filter refuses absolute paths and paths that leave `destination`.
    tar.extract(member, destination, filter="data")


def _read_to_end(tar: tarfile.TarFile, budget: FetchBudget, shown_as: str) -> None:
    """Read what follows the end-of-archive marker (padding), so that a compressed stream's
    trailer (its length and checksum) is checked; bounded by the same budget."""
    fileobj: Any = tar.fileobj
    left = budget.max_bytes
    while chunk := fileobj.read(CHUNK_BYTES):
        budget.check_time(f"reading {shown_as}")
        left -= len(chunk)
        if left < 0:
            raise FetchLimitError(f"{shown_as} holds more padding than its byte limit")


def extract_repository_archive(
    archive: Path, destination: Path, shown_as: str, budget: FetchBudget
) -> None:
    """Extract a (possibly compressed) tar into ``destination``; links and devices are refused,
    and the bytes written count against ``budget``."""
    if archive.stat().st_size == 0:  # else tarfile's four-method complaint
        raise FetchError(f"{shown_as} is empty (0 bytes), not a tar archive: upload it again")
    try:
        with tarfile.open(archive, "r:*", tarinfo=_StrictTarInfo) as tar:
            while (member := tar.next()) is not None:
                # tarfile keeps every header read; only links need them, and links are
                # refused, so forget them: a million-entry archive then needs no more memory.
                tar.members.clear()  # type: ignore[attr-defined]
                if not (member.isfile() or member.isdir()):
                    raise FetchError(
                        f"{shown_as} holds {member.name!r}, which is not a regular file or"
                        " directory; repository archives may hold only files and directories"
                    )
                _extract_member(tar, member, destination, budget)
            _read_to_end(tar, budget, shown_as)
    except FetchError:
        raise
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        # ValueError: what zlib, bz2 and lzma raise for some damaged streams.
        reason = one_line(error)  # tarfile lists each method it tried on a line
        raise FetchError(f"{shown_as} is not a readable tar archive: {reason}") from error


def write_repository_archive(
    repository: Path, archive: Path, only_model: str | None = None
) -> None:
    """Write ``repository`` (or only its model ``only_model``) as a .tar.gz whose root is the
    repository root, atomically: the archive appears only when complete."""
    top = repository / only_model if only_model else repository
    partial = archive.with_name(f".{archive.name}.partial")
    try:
        with tarfile.open(partial, "w:gz") as tar:
            if only_model:
                tar.add(top, arcname=only_model, recursive=False)
            for path in sorted(top.rglob("*")):
                tar.add(path, arcname=path.relative_to(repository).as_posix(), recursive=False)
        partial.rename(archive)
    finally:
        partial.unlink(missing_ok=True)
