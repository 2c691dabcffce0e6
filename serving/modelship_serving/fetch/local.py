"""file:// uris: a repository directory or an archive on a local or mounted filesystem."""

from __future__ import annotations

import shutil
from pathlib import Path

from modelship_serving.errors import FetchError
from modelship_serving.fetch.archive import extract_repository_archive
from modelship_serving.fetch.uri import ModelUri


def download_file_uri(uri: ModelUri, target: Path, scratch: Path) -> None:
    """Copy the directory, or extract the archive, that ``uri`` names into ``target``."""
    source = Path(uri.path)
    if not source.exists():
        raise FetchError(f"{uri.redacted()} does not exist")
    if uri.is_archive:
        if not source.is_file():
            raise FetchError(f"{uri.redacted()} is not a file")
        extract_repository_archive(source, target, uri.redacted())
        return
    if not source.is_dir():
        raise FetchError(f"{uri.redacted()} is neither a directory nor a .tar.gz/.tgz/.tar archive")
    shutil.copytree(source, target, symlinks=False, dirs_exist_ok=True)
