"""Scoring input and output in object storage: one object each, moved whole.

An input at ``s3://``, ``gs://``, ``az://`` or ``http(s)://`` is downloaded once into the
job's work directory and streamed from there; an output at ``s3://``, ``gs://`` or ``az://``
is assembled locally and uploaded when complete (an object appears only once fully
written), then its drift report, then its manifest. Credentials come from the environment,
as for `modelship fetch` (see modelship_serving.storage).
"""

from __future__ import annotations

from pathlib import Path

from modelship_serving.errors import ScoringError
from modelship_serving.fetch.uri import OBJECT_STORE_SCHEMES, ModelUri, parse_model_uri
from modelship_serving.storage import objects

REMOTE_SCHEMES = (*OBJECT_STORE_SCHEMES, "http", "https")
_WRITABLE = ", ".join(f"{scheme}://" for scheme in OBJECT_STORE_SCHEMES)


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
    if parsed.scheme in OBJECT_STORE_SCHEMES:
        objects.download(parsed, partial)
    else:
        from modelship_serving.fetch.http import download_http_object

        download_http_object(parsed, partial)
    partial.replace(destination)


def _writable(uri: str) -> ModelUri:
    parsed = parse_model_uri(uri)
    if parsed.scheme not in OBJECT_STORE_SCHEMES:
        raise ScoringError(
            f"cannot write to {parsed.redacted()}: outputs go to a path or {_WRITABLE}"
        )
    return parsed


def upload(source: Path, uri: str) -> None:
    """Upload ``source`` as the object at ``uri``."""
    objects.upload(source, _writable(uri))


def exists(uri: str) -> bool:
    """Whether an object exists at ``uri`` (object storage)."""
    return objects.exists(_writable(uri))


def read_text(uri: str) -> str | None:
    """The text of the small object at ``uri``, or None when there is none."""
    data = objects.read_bytes(_writable(uri))
    return None if data is None else data.decode("utf-8")


def delete(uri: str) -> None:
    """Delete the object at ``uri``; a missing object is not an error."""
    objects.delete(_writable(uri))


def delete_folder(prefix_uri: str) -> None:
    """Delete every object under the prefix ``prefix_uri``; a missing one is not an error."""
    objects.delete_prefix(_writable(prefix_uri.rstrip("/") + "/"))


def _listable(prefix_uri: str) -> ModelUri:
    parsed = parse_model_uri(prefix_uri.rstrip("/") + "/")
    if parsed.scheme not in OBJECT_STORE_SCHEMES:
        raise ScoringError(
            f"cannot list {parsed.redacted()}: a dataset is a local folder or a prefix in"
            f" {_WRITABLE}"
        )
    return parsed


def list_objects(prefix_uri: str) -> list[tuple[str, str]]:
    """The objects under the prefix ``prefix_uri`` as (name relative to the prefix, what
    changes when the object does: its size and modification time), sorted by name."""
    parsed = _listable(prefix_uri)
    return [
        (stored.key.removeprefix(parsed.key_prefix), stored.identity)
        for stored in objects.list_objects(parsed)
    ]


def dataset_files(prefix_uri: str) -> list[tuple[str, str]]:
    """Like :func:`list_objects`, the files of the dataset under ``prefix_uri`` only, as
    Arrow's dataset discovery finds them (``.`` and ``_`` files and folders skipped)."""
    parsed = _listable(prefix_uri)
    return [
        (stored.key.removeprefix(parsed.key_prefix), stored.identity)
        for stored in objects.dataset_objects(parsed)
    ]


def is_folder(uri: str) -> bool:
    """Whether ``uri`` (s3/gs/az, without a final '/') names a prefix holding objects."""
    parsed = parse_model_uri(uri)
    return parsed.scheme in OBJECT_STORE_SCHEMES and objects.is_folder(parsed)
