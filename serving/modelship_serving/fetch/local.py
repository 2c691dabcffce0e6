"""file:// uris: a repository directory or an archive on a local or mounted filesystem.

A directory (a mounted pvc:// claim becomes one) is copied entry by entry, never following a
link out of it: a symbolic link to a file inside the directory is copied as that file; a link
that leaves it, a link to a directory, a dangling link or a loop, a FIFO, a socket or a device
is refused with one line naming it. Nothing is opened that could block or never end
(/dev/zero, a FIFO), and the bytes copied count against the fetch's budget.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from modelship_serving.errors import FetchError
from modelship_serving.fetch.archive import extract_repository_archive
from modelship_serving.fetch.limits import BLOCK_BYTES, FetchBudget
from modelship_serving.fetch.uri import ModelUri


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file or directory"


def _refuse(shown: str, relative: str, why: str) -> FetchError:
    return FetchError(
        f"{shown} holds {relative!r}, {why}; a model repository directory may hold only"
        " regular files, directories and links to files inside it"
    )


def _regular_file_behind(entry: Path, root: Path, shown: str, relative: str) -> Path:
    """The regular file that ``entry`` (a symbolic link) names inside ``root``."""
    try:
        resolved = entry.resolve(strict=True)
    except (OSError, RuntimeError) as error:  # ENOENT, ELOOP; RuntimeError: a loop (3.11)
        why = "a dangling link" if isinstance(error, FileNotFoundError) else "a link loop"
        raise _refuse(shown, relative, f"which is {why}") from error
    if not resolved.is_relative_to(root):
        raise _refuse(shown, relative, f"a link that leaves the directory (to {resolved})")
    mode = resolved.stat().st_mode
    if stat.S_ISDIR(mode):
        raise _refuse(shown, relative, "a link to a directory (copy the directory instead)")
    if not stat.S_ISREG(mode):
        raise _refuse(shown, relative, f"a link to {_kind(mode)}")
    return resolved


def copy_repository_directory(source: Path, target: Path, shown: str, budget: FetchBudget) -> None:
    """Copy the regular files and directories below ``source`` into ``target``."""
    root = source.resolve()
    for directory, subdirectories, files in os.walk(root, onerror=_raise, followlinks=False):
        here = Path(directory)
        relative_dir = here.relative_to(root)
        for name in sorted(subdirectories + files):
            entry = here / name
            relative = (relative_dir / name).as_posix()
            budget.check_time(f"copying {relative}")
            try:
                mode = entry.lstat().st_mode
                if stat.S_ISLNK(mode):
                    entry = _regular_file_behind(entry, root, shown, relative)
                    mode = entry.stat().st_mode
                if stat.S_ISDIR(mode):
                    budget.charge(BLOCK_BYTES, relative)
                    (target / relative).mkdir()
                elif stat.S_ISREG(mode):
                    # O_NOFOLLOW|O_NONBLOCK: the entry cannot be swapped for a link or a FIFO
                    # that blocks between the check and the open.
                    descriptor = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                    with os.fdopen(descriptor, "rb") as stream:
                        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
                            raise _refuse(shown, relative, "which changed while being copied")
                        budget.copy_file(stream, target / relative, relative)
                else:
                    raise _refuse(shown, relative, f"which is {_kind(mode)}")
            except OSError as error:
                raise FetchError(
                    f"cannot copy {relative!r} from {shown}: {error.strerror or error}"
                ) from error


def _raise(error: OSError) -> None:
    raise error


def download_file_uri(uri: ModelUri, target: Path, scratch: Path, budget: FetchBudget) -> None:
    """Copy the directory, or extract the archive, that ``uri`` names into ``target``."""
    source = Path(uri.path)
    if not source.exists():
        raise FetchError(f"{uri.redacted()} does not exist")
    if uri.is_archive:
        if not source.is_file():
            raise FetchError(f"{uri.redacted()} is not a file")
        extract_repository_archive(source, target, uri.redacted(), budget)
        return
    if not source.is_dir():
        raise FetchError(f"{uri.redacted()} is neither a directory nor a .tar.gz/.tgz/.tar archive")
    try:
        copy_repository_directory(source, target, uri.redacted(), budget)
    except OSError as error:  # os.walk could not list a directory
        raise FetchError(f"cannot read {uri.redacted()}: {error}") from error
