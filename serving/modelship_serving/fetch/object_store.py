"""s3://, gs:// and az:// uris: a prefix holding the repository's files, or one archive object
(through modelship_serving.storage: credentials only from the environment)."""

from __future__ import annotations

from pathlib import Path

from modelship_serving.errors import FetchError
from modelship_serving.fetch.archive import extract_repository_archive
from modelship_serving.fetch.limits import FetchBudget, mkdir_charged
from modelship_serving.fetch.uri import ModelUri
from modelship_serving.storage import objects


def download_object_store_uri(
    uri: ModelUri, target: Path, scratch: Path, budget: FetchBudget
) -> None:
    """Download the archive object, or every object under the prefix, into ``target``: each
    object's listed size is refused before a byte is taken when it would pass the budget."""
    shown = uri.redacted()
    if uri.is_archive:
        archive = scratch / "repository.tar"
        objects.download(uri, archive, budget)
        extract_repository_archive(archive, target, shown, budget)
        return
    listed = {stored.key: stored for stored in objects.list_objects(uri)}
    if not listed:
        raise FetchError(f"{shown} holds no objects; check the bucket and prefix")
    for key, destination in uri.object_destinations(list(listed), target):
        mkdir_charged(destination.parent, budget, key)
        objects.download(uri, destination, budget, key=key, size=listed[key].size)
