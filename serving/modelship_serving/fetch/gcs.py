"""gs:// uris: a prefix holding the repository's files, or one archive object.

Credentials come from GOOGLE_APPLICATION_CREDENTIALS (a service-account key file
mounted from the credentials Secret) or the pod's workload identity; with
STORAGE_EMULATOR_HOST set, an emulator is used anonymously.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from modelship_serving.errors import FetchError
from modelship_serving.fetch.archive import extract_repository_archive
from modelship_serving.fetch.limits import FetchBudget, disk_bytes, mkdir_charged
from modelship_serving.fetch.retry import TransientFetchError, call_with_retries
from modelship_serving.fetch.uri import ModelUri


def gcs_client() -> Any:
    """A google-cloud-storage client configured from the environment only."""
    try:
        from google.cloud import storage
    except ImportError as error:
        raise FetchError("gs:// needs google-cloud-storage: install modelship[storage]") from error
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(project="emulator", credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    try:
        return storage.Client()
    except Exception as error:  # google.auth.exceptions.DefaultCredentialsError and kin
        raise FetchError(
            "no usable Google Cloud credentials: set GOOGLE_APPLICATION_CREDENTIALS to a"
            f" service-account key file ({type(error).__name__})"
        ) from error


def _translate(error: Exception, shown: str) -> Exception:
    from google.api_core import exceptions as gexc

    if isinstance(error, gexc.NotFound):
        return FetchError(f"{shown} does not exist; check the bucket and object name")
    if isinstance(error, gexc.Unauthorized | gexc.Forbidden):
        return FetchError(
            f"Google Cloud Storage refused access to {shown} ({type(error).__name__});"
            " check the service account in GOOGLE_APPLICATION_CREDENTIALS and its roles"
        )
    if isinstance(
        error,
        gexc.TooManyRequests
        | gexc.InternalServerError
        | gexc.BadGateway
        | gexc.ServiceUnavailable
        | gexc.GatewayTimeout
        | ConnectionError,
    ):
        return TransientFetchError(f"Google Cloud Storage failed for {shown}: {error}")
    return error


def _call(action: Any, shown: str) -> Any:
    return call_with_retries(
        action, lambda error: _translate(error, shown), f"GCS request for {shown}"
    )


def _download_blob(
    bucket: Any, name: str, size: int | None, destination: Path, budget: FetchBudget
) -> None:
    """Download one object of the listed `size` under the budget (the client checks its md5
    or crc32c)."""
    shown = f"gs://{bucket.name}/{name}"
    # Refuse what cannot fit before taking a byte; the stream is counted too.
    budget.ensure_room(disk_bytes(size or 0), shown)

    def attempt() -> None:
        budget.check_time(f"downloading {shown}")
        with budget.writer(destination, shown) as stream:
            bucket.blob(name).download_to_file(stream, timeout=budget.read_timeout())

    _call(attempt, shown)


def download_gcs_uri(uri: ModelUri, target: Path, scratch: Path, budget: FetchBudget) -> None:
    """Download the archive object, or every object under the prefix, into ``target``."""
    client = gcs_client()
    bucket = client.bucket(uri.host)
    shown = uri.redacted()
    if uri.is_archive:
        archive = scratch / "repository.tar"
        blob = _call(lambda: bucket.get_blob(uri.key), shown)
        if blob is None:
            raise FetchError(f"{shown} does not exist; check the bucket and object name")
        _download_blob(bucket, uri.key, blob.size, archive, budget)
        extract_repository_archive(archive, target, shown, budget)
        return
    sizes: dict[str, int | None] = _call(
        lambda: {
            blob.name: blob.size
            for blob in client.list_blobs(uri.host, prefix=uri.key_prefix)
            if not blob.name.endswith("/")
        },
        shown,
    )
    if not sizes:
        raise FetchError(f"{shown} holds no objects; check the bucket and prefix")
    for name, destination in uri.object_destinations(list(sizes), target):
        mkdir_charged(destination.parent, budget, name)
        _download_blob(bucket, name, sizes[name], destination, budget)


def download_gcs_object(uri: ModelUri, destination: Path) -> None:
    """Download one object to ``destination``."""
    bucket = gcs_client().bucket(uri.host)
    _call(lambda: bucket.blob(uri.key).download_to_filename(str(destination)), uri.redacted())


def upload_gcs_object(source: Path, uri: ModelUri) -> None:
    """Upload one file as an object (GCS makes it visible only once complete)."""
    bucket = gcs_client().bucket(uri.host)
    _call(lambda: bucket.blob(uri.key).upload_from_filename(str(source)), uri.redacted())


def gcs_object_exists(uri: ModelUri) -> bool:
    """Whether the object exists."""
    bucket = gcs_client().bucket(uri.host)
    result: bool = _call(lambda: bucket.blob(uri.key).exists(), uri.redacted())
    return result
