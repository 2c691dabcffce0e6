"""Where a scoring job reads and publishes files: a local folder or an object-storage prefix.

One interface, two implementations, chosen once from a uri by :func:`locate`; the job
never asks which it has. Files are named relative to the folder (``scores.parquet``,
``chunk-00000000.arrow``). The method names follow fsspec's ``AbstractFileSystem``
(``exists``, ``get_file``, ``put_file``, ``rm_file``) so that moving storage onto one
library (issue #13) replaces these classes, not their callers.

Every write is complete or absent: a local file is written beside its name and renamed
into place; an object appears only once fully uploaded.
"""

from __future__ import annotations

import errno
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from modelship_serving.digest import file_sha256
from modelship_serving.fetch.uri import redact_uri
from modelship_serving.scoring import remote
from modelship_serving.scoring.formats import local_path

logger = logging.getLogger(__name__)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``path`` so that it is either complete or absent."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


class Destination(Protocol):
    """A folder of files, on this machine's disk or in object storage."""

    def show(self, name: str = "") -> str:
        """The file ``name`` (or the folder) as a uri or path safe to log."""
        ...

    def exists(self, name: str) -> bool: ...

    def read_text(self, name: str) -> str | None:
        """The text of the small file ``name``; None when there is none."""
        ...

    def write_text(self, name: str, text: str) -> None: ...

    def get_file(self, name: str, target: Path) -> None:
        """Copy the file ``name`` to ``target`` on this machine."""
        ...

    def put_file(self, source: Path, name: str) -> None:
        """Copy ``source`` from this machine to the file ``name``."""
        ...

    def move_file(self, source: Path, name: str) -> None:
        """Publish ``source`` as ``name`` and remove it; a rename when ``source`` lies in
        :meth:`staging_dir`, so no reader ever sees part of it."""
        ...

    def rm_file(self, name: str) -> None:
        """Delete the file ``name``; a missing file is not an error."""
        ...

    def rm_tree(self) -> None:
        """Delete this folder and everything in it; a missing folder is not an error."""
        ...

    def child(self, folder: str) -> Destination:
        """The folder ``folder`` inside this one."""
        ...

    def local_file(self, name: str, copy: Path) -> Path:
        """The file ``name`` as a path on this machine: the file itself on a local disk,
        else a fresh download to ``copy`` (an earlier copy may be out of date).
        FileNotFoundError when a local file is missing."""
        ...

    def content_identity(self, name: str, at_hand: Path) -> str:
        """What changes whenever the content of the file ``name`` changes, given the path
        :meth:`local_file` returned for it: a job that finds it changed starts over."""
        ...

    def staging_dir(self, scratch: Path) -> Path:
        """Where to write a file that :meth:`move_file` then publishes."""
        ...

    def partial_work(
        self, folder: str, work_dir: Path | None, scratch: Path
    ) -> tuple[Path, Destination | None]:
        """Where a job keeps work in progress that its retry must find: the local work
        directory (``work_dir`` when given) and, when that directory does not outlive the
        pod, the folder ``folder`` here that mirrors it."""
        ...


@dataclass(frozen=True)
class LocalDestination:
    """A folder on this machine's disk (or a volume mounted into the pod)."""

    folder: Path

    def _path(self, name: str) -> Path:
        return self.folder / name

    def show(self, name: str = "") -> str:
        return str(self._path(name)) if name else str(self.folder)

    def exists(self, name: str) -> bool:
        return self._path(name).exists()

    def read_text(self, name: str) -> str | None:
        path = self._path(name)
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def write_text(self, name: str, text: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self._path(name), text)

    def get_file(self, name: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(self._path(name), temporary)
        temporary.replace(target)

    def put_file(self, source: Path, name: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self._path(f".{name}.tmp")
        shutil.copyfile(source, temporary)
        temporary.replace(self._path(name))

    def move_file(self, source: Path, name: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            source.replace(self._path(name))
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
            self.put_file(source, name)  # another filesystem: copy beside, then rename
            source.unlink()

    def rm_file(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def rm_tree(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def child(self, folder: str) -> LocalDestination:
        return LocalDestination(self._path(folder))

    def local_file(self, name: str, copy: Path) -> Path:
        path = self._path(name)
        if not path.is_file():
            raise FileNotFoundError(path)
        return path

    def content_identity(self, name: str, at_hand: Path) -> str:
        # Cheap and enough on a disk: a rewrite changes ctime even when size and mtime are
        # put back (cp -p, rsync -t), and a rename over the file changes all of them. A
        # false change (chmod, a restored volume) only costs a fresh start.
        stat = self._path(name).stat()
        return f"size={stat.st_size} mtime_ns={stat.st_mtime_ns} ctime_ns={stat.st_ctime_ns}"

    def staging_dir(self, scratch: Path) -> Path:
        return self.folder  # the same filesystem: publishing is a rename

    def partial_work(
        self, folder: str, work_dir: Path | None, scratch: Path
    ) -> tuple[Path, Destination | None]:
        # Beside the output, the work directory is as durable as the output itself.
        return work_dir or self._path(folder), None


@dataclass(frozen=True)
class ObjectStoreDestination:
    """A prefix in object storage (s3://, gs://, az://; http(s):// for reading only), each file
    one object moved whole; credentials come from the environment (see
    modelship_serving.scoring.remote)."""

    prefix: str  # a uri without the trailing slash

    def _uri(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def show(self, name: str = "") -> str:
        return redact_uri(self._uri(name) if name else self.prefix)

    def exists(self, name: str) -> bool:
        return remote.exists(self._uri(name))

    def read_text(self, name: str) -> str | None:
        return remote.read_text(self._uri(name))

    def write_text(self, name: str, text: str) -> None:
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / name
            atomic_write_text(path, text)
            remote.upload(path, self._uri(name))

    def get_file(self, name: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        remote.download(self._uri(name), target)

    def put_file(self, source: Path, name: str) -> None:
        remote.upload(source, self._uri(name))

    def move_file(self, source: Path, name: str) -> None:
        remote.upload(source, self._uri(name))
        source.unlink()

    def rm_file(self, name: str) -> None:
        remote.delete(self._uri(name))

    def rm_tree(self) -> None:
        remote.delete_folder(self.prefix)

    def child(self, folder: str) -> ObjectStoreDestination:
        return ObjectStoreDestination(self._uri(folder))

    def local_file(self, name: str, copy: Path) -> Path:
        logger.info("downloading %s", self.show(name))
        self.get_file(name, copy)
        return copy

    def content_identity(self, name: str, at_hand: Path) -> str:
        # A hash of the download itself: an ETag or a generation would cost a request and
        # still be absent from some http servers; the download was read in full anyway.
        return f"sha256={file_sha256(at_hand)}"

    def staging_dir(self, scratch: Path) -> Path:
        return scratch

    def partial_work(
        self, folder: str, work_dir: Path | None, scratch: Path
    ) -> tuple[Path, Destination | None]:
        # A Kubernetes Job retries in a new pod with a new /tmp: mirror beside the output.
        return work_dir or scratch, self.child(folder)


@dataclass(frozen=True)
class Location:
    """A file named by a uri: the folder it is in, its name there, and its plain file name."""

    folder: Destination
    name: str  # as the folder names it (an http(s) name keeps its query)
    file_name: str  # the last path segment: what its extension and local copies go by

    def show(self) -> str:
        return self.folder.show(self.name)


def locate(uri: str) -> Location:
    """The folder and name of the file ``uri`` (path, file://, s3://, gs://, http(s)://)."""
    if remote.is_remote(uri):
        parent, name = uri.rsplit("/", 1)
        return Location(ObjectStoreDestination(parent), name, remote.object_name(uri))
    path = local_path(uri)
    return Location(LocalDestination(path.parent), path.name, path.name)
