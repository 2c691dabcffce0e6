"""Parsing model uris, and showing them without secrets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit, urlunsplit

from modelship_serving.errors import FetchError

SUPPORTED_SCHEMES = ("file", "http", "https", "s3", "gs", "az")
OBJECT_STORE_SCHEMES = ("s3", "gs", "az")
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")


@dataclass(frozen=True)
class ModelUri:
    """A parsed uri: scheme, host (bucket, or container for az) and path (key prefix in a
    bucket)."""

    raw: str
    scheme: str
    host: str
    path: str

    @property
    def is_archive(self) -> bool:
        """Whether the uri names a tar archive rather than a directory or prefix."""
        if self.scheme in ("http", "https"):
            return True
        return self.path.lower().endswith(ARCHIVE_SUFFIXES)

    @property
    def key(self) -> str:
        """Object key (s3/gs/az): the path without its leading slash."""
        return self.path.lstrip("/")

    @property
    def key_prefix(self) -> str:
        """Prefix listing the objects under the uri (s3/gs/az): the key ending in "/", or ""
        for the whole bucket."""
        return self.key.rstrip("/") + "/" if self.key.strip("/") else ""

    def object_destination(self, key: str, target: Path) -> Path:
        """Where the object ``key``, listed under :attr:`key_prefix`, lands below ``target``;
        FetchError for a key that would leave it."""
        relative = PurePosixPath(key[len(self.key_prefix) :])
        if relative.is_absolute() or ".." in relative.parts:
            raise FetchError(
                f"object key {key!r} under {self.redacted()} is not a plain relative path"
            )
        return target / Path(*relative.parts)

    def object_destinations(self, keys: list[str], target: Path) -> list[tuple[str, Path]]:
        """(key, where it lands) for every key listed under :attr:`key_prefix`; FetchError for
        a key that leaves ``target`` or a layout no directory can hold (``a`` and ``a/b``)."""
        placed = [(key, self.object_destination(key, target)) for key in keys]
        files = {destination: key for key, destination in placed}
        for key, destination in placed:
            for parent in destination.parents:
                if parent in files:
                    raise FetchError(
                        f"{self.redacted()} holds both {files[parent]!r} and {key!r}: one"
                        " path cannot be a file and a directory; remove one of them"
                    )
        return placed

    def redacted(self) -> str:
        """The uri without user info and query string, safe to log."""
        return redact_uri(self.raw)


def redact_uri(uri: str) -> str:
    """``uri`` without user:password@ and ?query (presigned signatures), safe to log."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "<unparseable uri>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if not host and uri.startswith(f"{parts.scheme}://"):
        # urlunsplit writes an unknown scheme's empty host as "x:/path": show what was given.
        return f"{parts.scheme}://{parts.path}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def parse_model_uri(uri: str) -> ModelUri:
    """Parse and check a model uri; FetchError saying what is wrong."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if not scheme and uri.startswith("/"):
        raise FetchError(f"{uri!r} is a path, not a uri: write file://{uri}")
    if scheme not in SUPPORTED_SCHEMES:
        raise FetchError(
            f"unsupported uri {redact_uri(uri)!r}: use one of"
            f" {', '.join(s + '://' for s in SUPPORTED_SCHEMES)}"
        )
    if scheme in OBJECT_STORE_SCHEMES and not parts.netloc:
        bucket = "CONTAINER" if scheme == "az" else "BUCKET"
        raise FetchError(f"{redact_uri(uri)!r} names no bucket: write {scheme}://{bucket}/PREFIX")
    if scheme == "file" and parts.netloc not in ("", "localhost"):
        raise FetchError(f"{redact_uri(uri)!r}: file uris take an absolute path, file:///dir")
    if scheme in ("http", "https") and not parts.netloc:
        raise FetchError(f"{redact_uri(uri)!r} names no host")
    return ModelUri(raw=uri, scheme=scheme, host=parts.netloc, path=unquote(parts.path))
