"""`modelship package --push URI`: upload the archive where `modelship fetch` reads it.

s3://, gs:// and az:// go through modelship_serving.storage (credentials only from the environment),
file:// is a local copy, http(s):// a PUT (with MODELSHIP_HTTP_AUTHORIZATION, as fetch
sends it) that counts only once fetch's own download reads the same bytes back. An object
already at the URI is never overwritten: a version is published once. The ModelDeployment
snippet printed afterwards names exactly what was uploaded.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from modelship_serving.digest import file_sha256
from modelship_serving.errors import ModelshipServingError, PackagingError, one_line
from modelship_serving.fetch.uri import (
    ARCHIVE_SUFFIXES,
    OBJECT_STORE_SCHEMES,
    ModelUri,
    parse_model_uri,
    redact_uri,
)

_ARCHIVE_SUFFIXES = tuple(suffix for suffix in ARCHIVE_SUFFIXES if suffix != ".tar")
HTTP_AUTHORIZATION_VARIABLE = "MODELSHIP_HTTP_AUTHORIZATION"


def push_target(uri: str) -> ModelUri:
    """The parsed --push uri; PackagingError (before anything is packaged) when fetch could
    not read an archive there."""
    try:
        parsed = parse_model_uri(uri)
    except ModelshipServingError as error:
        raise PackagingError(f"--push {redact_uri(uri)}: {error}") from error
    if not parsed.path.lower().endswith(_ARCHIVE_SUFFIXES):
        raise PackagingError(
            f"--push {parsed.redacted()} must name a .tar.gz archive, e.g."
            " s3://models/churn/churn-3.tar.gz"
        )
    if parsed.scheme == "file" and not Path(parsed.path).parent.is_dir():
        raise PackagingError(
            f"--push {parsed.redacted()}: directory {Path(parsed.path).parent} does not exist;"
            " create it first (mkdir -p), as a bucket must exist before a push"
        )
    return parsed


def _already_there(target: ModelUri) -> bool:
    if target.scheme in OBJECT_STORE_SCHEMES:
        from modelship_serving.storage import objects

        return objects.exists(target)
    if target.scheme == "file":
        return Path(target.path).exists()
    return False  # http(s): a PUT either is allowed to replace or the server refuses it


def refuse_existing(target: ModelUri) -> None:
    """PackagingError when something already sits at the --push uri."""
    if _already_there(target):
        raise PackagingError(
            f"--push {target.redacted()} already exists; a published version is never"
            " replaced: push a new --version to a new uri"
        )


def _put(archive: Path, target: ModelUri) -> None:
    request = urllib.request.Request(target.raw, data=archive.read_bytes(), method="PUT")
    request.add_header("Content-Type", "application/gzip")
    authorization = os.environ.get(HTTP_AUTHORIZATION_VARIABLE)
    if authorization:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
    except (urllib.error.URLError, OSError) as error:
        raise PackagingError(
            f"--push {target.redacted()}: the PUT failed ({one_line(error)}); upload the"
            " --archive yourself or push to s3://, gs://, az:// or file://"
        ) from error


def _read_back(archive: Path, target: ModelUri) -> None:
    """Fetch's own download of the uri must give the archive's bytes."""
    from modelship_serving.fetch.http import download_http_object

    with tempfile.TemporaryDirectory(prefix="modelship-push-") as scratch:
        copy = Path(scratch) / "archive.tar.gz"
        try:
            download_http_object(target, copy)
        except ModelshipServingError as error:
            raise PackagingError(
                f"--push {target.redacted()}: the server took the PUT but `modelship fetch`"
                f" cannot read it back ({error}); use a uri fetch reads"
            ) from error
        if file_sha256(copy) != file_sha256(archive):
            raise PackagingError(
                f"--push {target.redacted()}: the server took the PUT but serves other bytes"
                " back; use a uri that serves what was uploaded"
            )


def push_archive(archive: Path, target: ModelUri) -> None:
    """Upload ``archive`` to ``target`` (see the module docstring)."""
    refuse_existing(target)
    try:
        if target.scheme in OBJECT_STORE_SCHEMES:
            from modelship_serving.storage import objects

            objects.upload(archive, target)
        elif target.scheme == "file":
            destination = Path(target.path)
            partial = destination.with_name(f".{destination.name}.partial")
            try:
                shutil.copyfile(archive, partial)
                partial.rename(destination)
            finally:
                partial.unlink(missing_ok=True)
        else:
            _put(archive, target)
            _read_back(archive, target)
    except PackagingError:
        raise
    except ModelshipServingError as error:
        raise PackagingError(f"--push {target.redacted()}: {error}") from error


def deployment_snippet(name: str, version: str, uri: str, sha256: str) -> str:
    """A ModelDeployment that serves the pushed version (kubectl apply -f -)."""
    scheme = uri.split("://", 1)[0]
    lines = [
        "apiVersion: modelship.dev/v1alpha1",
        "kind: ModelDeployment",
        "metadata:",
        f"  name: {name}",
        "spec:",
        "  model:",
        f"    name: {name}",
        f'    version: "{version}"',
        f"    uri: {uri}",
        f"    sha256: {sha256}",
    ]
    if scheme in (*OBJECT_STORE_SCHEMES, "http", "https"):
        lines.append("    # credentialsSecret: NAME  (a Secret with the store's credentials)")
    return "\n".join(lines) + "\n"
