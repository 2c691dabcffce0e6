"""Scoring input and output in object storage: one object each, moved whole.

An input at ``s3://``, ``gs://`` or ``http(s)://`` is downloaded once into the
job's work directory and streamed from there; an output at ``s3://`` or ``gs://``
is assembled locally and uploaded when complete (an object appears only once
fully written), then its drift report, then its manifest. Credentials come from
the environment, as for `modelship fetch`.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from modelship_serving.errors import ScoringError
from modelship_serving.fetch.uri import ModelUri, parse_model_uri

REMOTE_SCHEMES = ("s3", "gs", "http", "https")


def is_remote(uri: str) -> bool:
    """Whether ``uri`` names an object in storage rather than a local file."""
    return uri.split("://", 1)[0].lower() in REMOTE_SCHEMES if "://" in uri else False


def object_name(uri: str) -> str:
    """The last path segment (the file name) of a uri."""
    return parse_model_uri(uri).path.rstrip("/").rsplit("/", 1)[-1]


def download(uri: str, destination: Path) -> None:
    """Download the object at ``uri`` to ``destination``, complete or not at all."""
    parsed = parse_model_uri(uri)
    partial = destination.with_name(f".{destination.name}.partial")
    if parsed.scheme == "s3":
        from modelship_serving.fetch.s3 import download_s3_object

        download_s3_object(parsed, partial)
    elif parsed.scheme == "gs":
        from modelship_serving.fetch.gcs import download_gcs_object

        download_gcs_object(parsed, partial)
    else:
        from modelship_serving.fetch.http import download_http_object

        download_http_object(parsed, partial)
    partial.replace(destination)


def _writable(uri: str) -> ModelUri:
    parsed = parse_model_uri(uri)
    if parsed.scheme not in ("s3", "gs"):
        raise ScoringError(
            f"cannot write to {parsed.redacted()}: outputs go to a path, s3:// or gs://"
        )
    return parsed


def upload(source: Path, uri: str) -> None:
    """Upload ``source`` as the object at ``uri``."""
    parsed = _writable(uri)
    if parsed.scheme == "s3":
        from modelship_serving.fetch.s3 import upload_s3_object

        upload_s3_object(source, parsed)
    else:
        from modelship_serving.fetch.gcs import upload_gcs_object

        upload_gcs_object(source, parsed)


def exists(uri: str) -> bool:
    """Whether an object exists at ``uri`` (s3/gs)."""
    parsed = _writable(uri)
    if parsed.scheme == "s3":
        from modelship_serving.fetch.s3 import s3_object_exists

        return s3_object_exists(parsed)
    from modelship_serving.fetch.gcs import gcs_object_exists

    return gcs_object_exists(parsed)


def read_text(uri: str) -> str | None:
    """The text of the small object at ``uri`` (s3/gs), or None when there is none."""
    if not exists(uri):
        return None
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "object"
        download(uri, path)
        return path.read_text(encoding="utf-8")


def delete(uri: str) -> None:
    """Delete the object at ``uri`` (s3/gs); a missing object is not an error."""
    parsed = _writable(uri)
    try:
        if parsed.scheme == "s3":
            from modelship_serving.fetch.s3 import s3_client

            s3_client().delete_object(Bucket=parsed.host, Key=parsed.key)
        else:
            from google.api_core.exceptions import NotFound

            from modelship_serving.fetch.gcs import gcs_client

            with contextlib.suppress(NotFound):
                gcs_client().bucket(parsed.host).blob(parsed.key).delete()
    except Exception as error:
        raise ScoringError(f"cannot delete {parsed.redacted()}: {error}") from error


def list_objects(prefix_uri: str) -> list[tuple[str, str]]:
    """The objects under the prefix ``prefix_uri`` (s3/gs) as (name relative to the prefix,
    what changes when the object does: its ETag or generation, and size), sorted by name."""
    parsed = parse_model_uri(prefix_uri.rstrip("/") + "/")
    if parsed.scheme not in ("s3", "gs"):
        raise ScoringError(
            f"cannot list {parsed.redacted()}: a dataset is a local folder or an s3:// or gs://"
            " prefix ending in '/'"
        )
    prefix = parsed.key
    try:
        if parsed.scheme == "s3":
            from modelship_serving.fetch.s3 import s3_client

            paginator = s3_client().get_paginator("list_objects_v2")
            found = [
                (item["Key"], f"etag={item['ETag'].strip(chr(34))} size={item['Size']}")
                for page in paginator.paginate(Bucket=parsed.host, Prefix=prefix)
                for item in page.get("Contents", [])
            ]
        else:
            from modelship_serving.fetch.gcs import gcs_client

            found = [
                (blob.name, f"generation={blob.generation} size={blob.size}")
                for blob in gcs_client().list_blobs(parsed.host, prefix=prefix)
            ]
    except Exception as error:
        raise ScoringError(f"cannot list {parsed.redacted()}: {error}") from error
    return sorted(
        (key[len(prefix) :], identity) for key, identity in found if not key.endswith("/")
    )
