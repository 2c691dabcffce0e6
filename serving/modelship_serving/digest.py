"""The sha256 of a model repository: one definition used by `package` and `fetch`.

Definition (version 1). For a directory ``ROOT`` (the Triton model repository,
the directory given to ``--model-repository``):

1. Take every regular file below ``ROOT``, at any depth. Symbolic links,
   directories and other special files are not part of the digest (``package``
   writes none; ``fetch`` refuses them in archives).
2. For each file, form the line ``"<sha256 of the file's bytes, lowercase hex>  <path>\\n"``
   where ``<path>`` is the file's path relative to ``ROOT`` with ``/`` separators,
   UTF-8 encoded. This is exactly a line of ``sha256sum`` output.
3. Sort the lines by path, comparing the UTF-8 bytes.
4. The repository digest is the sha256 (lowercase hex) of the concatenated lines.

The digest does not depend on where the repository came from (a directory, an
object-store prefix or a ``.tar.gz``), on timestamps or on file modes, so the
value that ``modelship package`` prints can be pasted into
``spec.model.sha256`` and is what ``modelship fetch --sha256`` checks after
download. It can be reproduced with standard tools::

    cd ROOT && find . -type f -printf '%P\\0' | LC_ALL=C sort -z \\
        | xargs -0 sha256sum | sha256sum

In the pod, ``modelship configure`` rewrites each model's ``config.pbtxt`` after ``fetch``
verified it, keeping the packaged one beside it as ``.config.pbtxt.packaged``. When the init
containers run again in the same pod (the model volume survives a container restart),
``fetch`` checks :func:`packaged_repository_sha256`: the digest above of the repository as
it was packaged, every file verified again, the effective configs replaced by the packaged
ones they were derived from.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK_BYTES = 1 << 20


def file_sha256(path: Path) -> str:
    """The sha256 of one file's bytes, lowercase hex."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def repository_manifest(root: Path) -> list[tuple[str, str]]:
    """(relative posix path, file sha256) of every regular file below ``root``, sorted by path."""
    entries: list[tuple[str, str]] = []
    for path in root.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        entries.append((path.relative_to(root).as_posix(), file_sha256(path)))
    entries.sort(key=lambda entry: entry[0].encode("utf-8"))
    return entries


def repository_sha256(root: Path) -> str:
    """The digest of a model repository, as defined in this module's docstring."""
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a directory")
    return _digest_of(repository_manifest(root))


def _digest_of(manifest: list[tuple[str, str]]) -> str:
    """Steps 2 to 4 of the definition, over (path, file sha256) pairs sorted by path."""
    digest = hashlib.sha256()
    for relative_path, sha in manifest:
        digest.update(f"{sha}  {relative_path}\n".encode())
    return digest.hexdigest()


PACKAGED_CONFIG_NAME = ".config.pbtxt.packaged"
"""Where `configure` keeps a model's packaged config.pbtxt before writing the effective one."""
CONFIG_NAME = "config.pbtxt"


def packaged_repository_sha256(root: Path) -> str:
    """The digest of ``root`` as it was packaged, before `configure` rewrote its configs."""
    entries = dict(repository_manifest(root))
    for relative_path in [p for p in entries if p.split("/")[-1] == PACKAGED_CONFIG_NAME]:
        config = relative_path[: -len(PACKAGED_CONFIG_NAME)] + CONFIG_NAME
        entries[config] = entries.pop(relative_path)
    return _digest_of(sorted(entries.items(), key=lambda entry: entry[0].encode("utf-8")))


def is_sha256_hex(value: str) -> bool:
    """Whether ``value`` looks like a sha256 digest (64 hex digits)."""
    return len(value) == 64 and all(c in "0123456789abcdefABCDEF" for c in value)
