"""Objects in s3://, gs:// and az:// storage, through pyarrow.fs: list, download, upload, delete.

Every call is retried on transient failures (throttling, 5xx, a dropped connection) and
fails with one line that says what to fix, every secret of the environment masked (see
modelship_serving.storage.filesystems). A download is charged to a FetchBudget: its listed
size before a byte is taken, then each chunk as it arrives. Streams are opened with
``compression=None``: pyarrow would otherwise decompress a ``.tar.gz`` on read (and
compress on write) by its name. An upload becomes visible only once complete: S3 and GCS
publish an object when its upload is finished; Azure's block blobs appear empty as soon as
a write starts, so az:// uploads go to a hidden name first and are copied into place by
the server.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from modelship_serving.errors import FetchError
from modelship_serving.fetch.limits import CHUNK_BYTES, FetchBudget, disk_bytes, unlimited
from modelship_serving.fetch.retry import TransientFetchError, call_with_retries
from modelship_serving.fetch.uri import ModelUri
from modelship_serving.storage.filesystems import filesystem, scrub_secrets

T = TypeVar("T")
# pyarrow's S3 stream sends one ranged GET per read: large reads keep the requests few.
STORE_READ_BYTES = 16 * 1024 * 1024

_STORE_NAMES = {"s3": "S3", "gs": "Google Cloud Storage", "az": "Azure Blob Storage"}
_CREDENTIAL_HINTS = {
    "s3": "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
    "gs": "the service account in GOOGLE_APPLICATION_CREDENTIALS and its roles",
    "az": "AZURE_STORAGE_ACCOUNT_KEY, AZURE_STORAGE_SAS_TOKEN or the workload identity",
}
# Codes in the stores' error messages (AWS, google-cloud-cpp and Azure SDK), each also found
# as the AWS C++ SDK spells it (INVALID_ACCESS_KEY_ID).
_REFUSED = (
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "AccessDenied",
    "AuthorizationFailure",
    "AuthenticationFailed",
    "AuthorizationPermissionMismatch",
    "PERMISSION_DENIED",
    "UNAUTHENTICATED",
    "Forbidden",
    "403",
    "401",
)
_MISSING = ("NoSuchBucket", "NoSuchKey", "ContainerNotFound", "BlobNotFound", "NOT_FOUND", "404")
_TRANSIENT = (
    "SlowDown",
    "ServiceUnavailable",
    "InternalError",
    "RequestTimeout",
    "UNAVAILABLE",
    "DEADLINE_EXCEEDED",
    "RESOURCE_EXHAUSTED",
    "ServerBusy",
    "OperationTimedOut",
    "500",
    "502",
    "503",
    "504",
    "Connection refused",
    "connect",
    "resolve",
    "timed out",
    "Timeout",
)


@dataclass(frozen=True)
class StoredObject:
    """An object listed under a prefix: its key, size, and what changes when it does."""

    key: str
    size: int
    modified_ns: int | None

    @property
    def identity(self) -> str:
        return f"size={self.size} modified_ns={self.modified_ns}"


def _path(uri: ModelUri, key: str | None = None) -> str:
    return f"{uri.host}/{uri.key if key is None else key}".rstrip("/")


def _screaming(word: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", word).upper()


def _found(message: str, words: tuple[str, ...]) -> str | None:
    """The first code of ``words`` standing as a word in ``message`` (not inside a request
    id), as written in ``words``."""
    return next(
        (
            word
            for word in words
            if re.search(rf"\b({re.escape(word)}|{_screaming(word)})\b", message)
        ),
        None,
    )


def translate(error: Exception, uri: ModelUri, shown: str) -> Exception:
    """A FetchError (or TransientFetchError, worth a retry) that says what to fix."""
    if isinstance(error, FetchError):
        return error
    store = _STORE_NAMES[uri.scheme]
    message = scrub_secrets(" ".join(str(error).split()))[:400]
    if isinstance(error, FileNotFoundError) or _found(message, _MISSING):
        return FetchError(f"{shown} does not exist; check the bucket and key")
    refused = _found(message, _REFUSED)
    # Without keys the AWS C++ SDK fails with an empty INTERNAL_FAILURE.
    no_keys = uri.scheme == "s3" and not os.environ.get("AWS_ACCESS_KEY_ID")
    if no_keys and (refused is not None or "INTERNAL_FAILURE" in message):
        return FetchError(
            f"no usable S3 credentials for {shown}: set AWS_ACCESS_KEY_ID and"
            " AWS_SECRET_ACCESS_KEY (from the credentials Secret)"
        )
    if refused is not None:
        return FetchError(
            f"{store} refused access to {shown} ({refused}); check the credentials Secret"
            f" ({_CREDENTIAL_HINTS[uri.scheme]}) and the bucket's permissions"
        )
    if uri.scheme == "gs" and "credentials" in message.lower():
        return FetchError(
            f"no usable Google Cloud credentials for {shown}: set GOOGLE_APPLICATION_CREDENTIALS"
            f" to a service-account key file ({message})"
        )
    if _found(message, _TRANSIENT) or isinstance(error, ConnectionError | TimeoutError):
        return TransientFetchError(f"{store} failed for {shown}: {message}")
    if isinstance(error, OSError | ValueError) or _is_arrow_error(error):
        # Arrow's own errors (ArrowException: "Unknown error") name the url they failed
        # on, SAS token included: only their scrubbed message may travel on.
        return FetchError(f"{store} error for {shown}: {message}")
    return error


def _is_arrow_error(error: Exception) -> bool:
    try:
        from pyarrow.lib import ArrowException
    except ImportError:
        return False
    return isinstance(error, ArrowException)


def _call(uri: ModelUri, action: Any, what: str = "") -> Any:
    shown = uri.redacted()

    def scrubbed() -> Any:
        try:
            return action()
        except Exception as error:
            translated = translate(error, uri, shown)
            if translated is error:
                raise
            # Not chained: Arrow's error quotes the url with its SAS token, and a traceback
            # prints the cause; the translated message keeps its scrubbed text.
            raise translated from None

    return call_with_retries(
        scrubbed,
        lambda error: error,
        what or f"{_STORE_NAMES[uri.scheme]} request for {shown}",
    )


def list_objects(uri: ModelUri) -> list[StoredObject]:
    """Every object under the uri's :attr:`ModelUri.key_prefix`, in key order; FetchError when
    the bucket does not exist."""
    from pyarrow.fs import FileSelector, FileType

    fs = filesystem(uri.scheme)
    base = _path(uri, uri.key_prefix)

    def listing() -> list[StoredObject]:
        infos = fs.get_file_info(FileSelector(base, recursive=True, allow_not_found=True))
        found = [
            StoredObject(info.path.split("/", 1)[1], info.size or 0, info.mtime_ns)
            for info in infos
            if info.type == FileType.File and not info.path.endswith("/")
        ]
        if not found and fs.get_file_info(uri.host).type == FileType.NotFound:
            raise FileNotFoundError(uri.host)
        return sorted(found, key=lambda stored: stored.key)

    objects: list[StoredObject] = _call(uri, listing)
    return objects


def dataset_objects(uri: ModelUri) -> list[StoredObject]:
    """The files of the dataset under the uri's prefix as Arrow's dataset discovery finds
    them (see modelship_serving.storage.discovery), in key order."""
    from modelship_serving.storage.discovery import discovered_files

    listed = {stored.key: stored for stored in list_objects(uri)}
    fs = filesystem(uri.scheme)
    base = _path(uri, uri.key_prefix)
    files: list[str] = _call(uri, lambda: discovered_files(fs, base))
    return [listed[f"{uri.key_prefix}{file}"] for file in files]


def is_folder(uri: ModelUri) -> bool:
    """Whether objects lie under ``uri`` taken as a prefix (it names a folder, not an object)."""
    from pyarrow.fs import FileType

    fs = filesystem(uri.scheme)
    result: bool = _call(uri, lambda: fs.get_file_info(_path(uri)).type == FileType.Directory)
    return result


def object_size(uri: ModelUri) -> int:
    """The size of the object at ``uri``; FetchError when there is none."""
    from pyarrow.fs import FileType

    fs = filesystem(uri.scheme)

    def size() -> int:
        info = fs.get_file_info(_path(uri))
        if info.type != FileType.File:
            raise FileNotFoundError(_path(uri))
        return int(info.size or 0)

    result: int = _call(uri, size)
    return result


def exists(uri: ModelUri) -> bool:
    """Whether an object exists at ``uri``."""
    from pyarrow.fs import FileType

    fs = filesystem(uri.scheme)
    result: bool = _call(uri, lambda: fs.get_file_info(_path(uri)).type == FileType.File)
    return result


def download(
    uri: ModelUri,
    destination: Path,
    budget: FetchBudget | None = None,
    key: str | None = None,
    size: int | None = None,
) -> None:
    """Stream the object ``key`` (default: the uri's own) to ``destination`` under ``budget``;
    ``size`` is its listed size (asked for when not given), checked against what arrived."""
    limits = budget or unlimited()
    fs = filesystem(uri.scheme)
    path = _path(uri, key)
    shown = f"{uri.scheme}://{path}"
    expected = size if size is not None else object_size(uri if key is None else _keyed(uri, key))

    def attempt() -> None:
        limits.check_time(f"downloading {shown}")
        # Refuse what cannot fit before taking a byte; the stream is counted too.
        limits.ensure_room(disk_bytes(expected), shown)
        try:
            with fs.open_input_stream(path, compression=None) as stream:
                chunks = iter(lambda: stream.read(STORE_READ_BYTES), b"")
                received = limits.write_stream(chunks, destination, shown)
        except FetchError:
            raise
        except Exception:
            limits.check_time(f"downloading {shown}")  # a read cut short by the deadline
            raise
        if received != expected:
            limits.refund(disk_bytes(received))
            raise TransientFetchError(f"{shown}: got {received} of {expected} bytes")

    _call(uri, attempt, f"downloading {shown}")


def _keyed(uri: ModelUri, key: str) -> ModelUri:
    raw = f"{uri.scheme}://{uri.host}/{key}"
    return ModelUri(raw=raw, scheme=uri.scheme, host=uri.host, path=f"/{key}")


# What a small object (a run's manifest, marker or drift counts) may hold: a larger one at
# that name is not ours, and is refused rather than read into memory.
SMALL_OBJECT_LIMIT = 64 * 1024 * 1024


def read_bytes(uri: ModelUri, limit: int = SMALL_OBJECT_LIMIT) -> bytes | None:
    """The bytes of the small object at ``uri``, or None when there is none; a FetchError
    when it holds more than ``limit`` bytes."""
    fs = filesystem(uri.scheme)

    def read() -> bytes | None:
        try:
            with fs.open_input_stream(_path(uri), compression=None) as stream:
                data: bytes = stream.read(limit + 1)
        except FileNotFoundError:
            return None
        if len(data) > limit:
            raise FetchError(
                f"{uri.redacted()} holds more than {limit} bytes, more than modelship writes"
                " there; remove it or choose another output"
            )
        return data

    result: bytes | None = _call(uri, read)
    return result


def upload(source: Path, uri: ModelUri) -> None:
    """Upload ``source`` as the object at ``uri``, visible only once complete."""
    fs = filesystem(uri.scheme)
    path = _path(uri)
    folder, _, name = path.rpartition("/")
    # az: a hidden name, skipped by dataset listings, until the server copies it into place.
    staged = f"{folder}/.{name}.uploading-{uuid.uuid4().hex}" if uri.scheme == "az" else path

    def put() -> None:
        with source.open("rb") as local, fs.open_output_stream(staged, compression=None) as remote:
            for chunk in iter(lambda: local.read(CHUNK_BYTES), b""):
                remote.write(chunk)
        if staged != path:
            try:
                fs.copy_file(staged, path)
            finally:
                fs.delete_file(staged)

    _call(uri, put)


def delete(uri: ModelUri) -> None:
    """Delete the object at ``uri``; a missing object is not an error."""
    fs = filesystem(uri.scheme)

    def remove() -> None:
        with contextlib.suppress(FileNotFoundError):
            fs.delete_file(_path(uri))

    _call(uri, remove)


def delete_prefix(uri: ModelUri) -> None:
    """Delete every object under the uri's prefix (pyarrow's directory markers included);
    a missing prefix is not an error. Never a whole bucket."""
    if not uri.key_prefix:
        raise FetchError(f"refusing to delete all of {uri.redacted()}: name a prefix")
    fs = filesystem(uri.scheme)

    def remove() -> None:
        with contextlib.suppress(FileNotFoundError):
            fs.delete_dir(_path(uri, uri.key_prefix))

    _call(uri, remove)
