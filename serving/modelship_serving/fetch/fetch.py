"""Fetching a model repository into a destination directory, verified, all or nothing.

The repository is downloaded into a staging directory beside (or, for an
existing empty directory such as an emptyDir mount point, inside) the
destination, checked against the expected sha256 (see modelship_serving.digest),
and only then moved into place. A failed or interrupted fetch leaves nothing
usable behind, and its leftovers are cleaned up by the next run.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from modelship_serving.digest import (
    PACKAGED_CONFIG_NAME,
    file_sha256,
    is_sha256_hex,
    packaged_repository_sha256,
    repository_manifest,
    repository_sha256,
)
from modelship_serving.errors import ChecksumError, FetchError
from modelship_serving.fetch.limits import FetchBudget
from modelship_serving.fetch.uri import ModelUri, parse_model_uri

METADATA_FILENAME = "modelship.json"  # modelship_serving.metadata's, without importing pandas

logger = logging.getLogger(__name__)

STAGING_PREFIX = ".modelship-fetch-"

Downloader = Callable[[ModelUri, Path, Path, FetchBudget], None]


@dataclass(frozen=True)
class FetchResult:
    """What was fetched."""

    destination: Path
    sha256: str
    files: int
    already_present: bool
    """True when the destination already held the verified repository (an init container rerun)."""


def _downloader(scheme: str) -> Downloader:
    # Imported on use, so that file:// works without pyarrow (the storage extra).
    if scheme == "file":
        from modelship_serving.fetch.local import download_file_uri

        return download_file_uri
    if scheme in ("http", "https"):
        from modelship_serving.fetch.http import download_http_uri

        return download_http_uri
    from modelship_serving.fetch.object_store import download_object_store_uri

    return download_object_store_uri


def _remove_leftovers(directory: Path, prefix: str) -> None:
    if not directory.is_dir():
        return
    for entry in directory.iterdir():
        if entry.name.startswith(prefix) and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)


def check_recorded_model_digests(repository: Path, shown: str) -> None:
    """ChecksumError when a model file differs from the sha256 its modelship.json records.

    This holds even without --sha256: a repository written by `modelship package` carries
    the digest of each model file. Plain JSON is read, so fetch needs no data libraries.
    """
    for metadata_file in sorted(repository.glob(f"*/{METADATA_FILENAME}")):
        try:
            recorded = json.loads(metadata_file.read_text(encoding="utf-8"))
            model_file = metadata_file.parent / str(recorded["model_file"])
            expected = str(recorded["model_sha256"])
        except (ValueError, KeyError, TypeError) as error:
            raise FetchError(
                f"{shown}: {metadata_file.parent.name}/{METADATA_FILENAME} is unreadable"
            ) from error
        if not model_file.is_file():
            raise FetchError(f"{shown}: {model_file.relative_to(repository)} is missing")
        if file_sha256(model_file) != expected:
            raise ChecksumError(
                f"{shown}: {model_file.relative_to(repository)} does not match the sha256 its"
                f" {METADATA_FILENAME} records ({expected}); the model file was changed or"
                " damaged. Nothing was installed."
            )


def _is_complete_repository(directory: Path) -> bool:
    """Whether ``directory`` holds packaged models whose files match their recorded digests."""
    if not list(directory.glob(f"*/{METADATA_FILENAME}")):
        return False
    try:
        check_recorded_model_digests(directory, str(directory))
    except FetchError:
        return False
    return True


def fetch_repository(
    uri: str,
    destination: Path,
    expected_sha256: str | None = None,
    budget: FetchBudget | None = None,
) -> FetchResult:
    """Fetch the repository at ``uri`` into ``destination``; see the module docstring.
    ``budget`` bounds the bytes written and the time taken (defaults: FetchBudget's)."""
    budget = budget or FetchBudget()
    if expected_sha256 is not None:
        if not is_sha256_hex(expected_sha256):
            raise FetchError(
                f"--sha256 {expected_sha256!r} is not a sha256 (64 hex digits); copy the value"
                " `modelship package` printed"
            )
        expected_sha256 = expected_sha256.lower()
    parsed = parse_model_uri(uri)
    try:
        return _fetch(parsed, destination, expected_sha256, budget)
    except OSError as error:
        # The destination side: unwritable, full, or gone (a source error is named earlier).
        raise FetchError(
            f"cannot write the repository into {destination}: {error.strerror or error}"
            f"{f' ({error.filename})' if error.filename else ''}; give a writable directory"
            " with room for the model (the model volume)"
        ) from error


def _already_present(destination: Path, expected_sha256: str | None) -> FetchResult:
    """The result of an earlier, complete fetch into ``destination`` (an init container run
    again in the same pod, perhaps after `configure`); FetchError for other content."""
    present = packaged_repository_sha256(destination)
    files = sum(
        1
        for path, _ in repository_manifest(destination)
        if path.split("/")[-1] != PACKAGED_CONFIG_NAME
    )
    if expected_sha256 is not None and present == expected_sha256:
        logger.info("%s already holds the verified repository", destination)
        return FetchResult(destination, present, files, True)
    if expected_sha256 is None and _is_complete_repository(destination):
        logger.info("%s already holds a complete repository", destination)
        return FetchResult(destination, present, files, True)
    raise FetchError(
        f"destination {destination} is not empty (sha256 {present}); give an empty or"
        " missing directory"
    )


def _fetch(
    parsed: ModelUri, destination: Path, expected_sha256: str | None, budget: FetchBudget
) -> FetchResult:
    if destination.exists() and not destination.is_dir():
        raise FetchError(f"destination {destination} exists and is not a directory")

    into_existing = destination.is_dir()
    if into_existing:
        _remove_leftovers(destination, STAGING_PREFIX)
        if any(destination.iterdir()):
            return _already_present(destination, expected_sha256)
        staging_parent = destination
    else:
        destination.parent.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(destination.parent, f".{destination.name}{STAGING_PREFIX}")
        staging_parent = destination.parent
    prefix = STAGING_PREFIX if into_existing else f".{destination.name}{STAGING_PREFIX}"
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=staging_parent))
    try:
        repository = staging / "repository"
        scratch = staging / "scratch"
        repository.mkdir()
        scratch.mkdir()
        logger.info("fetching %s", parsed.redacted())
        _downloader(parsed.scheme)(parsed, repository, scratch, budget)
        budget.check_time("verifying")
        files = len(repository_manifest(repository))
        if files == 0:
            raise FetchError(f"{parsed.redacted()} holds no files")
        actual = repository_sha256(repository)
        if expected_sha256 is not None and actual != expected_sha256:
            raise ChecksumError(
                f"sha256 mismatch for {parsed.redacted()}: expected {expected_sha256}, got"
                f" {actual}; the repository changed since it was packaged, or"
                " spec.model.sha256 is wrong. Nothing was installed."
            )
        check_recorded_model_digests(repository, parsed.redacted())
        repository.chmod(0o755)
        if into_existing:
            # A mount point cannot be replaced; move its entries in, one rename each.
            for entry in sorted(repository.iterdir()):
                entry.rename(destination / entry.name)
        else:
            repository.rename(destination)
        logger.info("fetched %d files into %s, sha256 %s", files, destination, actual)
        return FetchResult(destination, actual, files, False)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
