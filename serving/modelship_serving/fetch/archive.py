"""Unpacking (and writing) tar archives of a model repository: only files and directories."""

from __future__ import annotations

import tarfile
from pathlib import Path

from modelship_serving.errors import FetchError


def extract_repository_archive(archive: Path, destination: Path, shown_as: str) -> None:
    """Extract a (possibly gzipped) tar into ``destination``; links and devices are refused."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                if not (member.isfile() or member.isdir()):
                    raise FetchError(
                        f"{shown_as} holds {member.name!r}, which is not a regular file or"
                        " directory; repository archives may hold only files and directories"
                    )
            # The "data" filter also refuses absolute paths and paths that leave `destination`.
            tar.extractall(destination, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError) as error:
        reason = " ".join(str(error).split())  # tarfile lists each method it tried on a line
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
