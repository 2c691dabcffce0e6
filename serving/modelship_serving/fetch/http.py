"""http(s):// uris: always a tar archive of the repository."""

from __future__ import annotations

import http.client
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

from modelship_serving.errors import FetchError
from modelship_serving.fetch.archive import extract_repository_archive
from modelship_serving.fetch.retry import TransientFetchError, with_retries
from modelship_serving.fetch.uri import ModelUri

AUTHORIZATION_VARIABLE = "MODELSHIP_HTTP_AUTHORIZATION"
TIMEOUT_SECONDS = 60.0
_TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def _download_once(uri: ModelUri, archive: Path) -> None:
    request = urllib.request.Request(uri.raw, headers={"User-Agent": "modelship-fetch"})
    authorization = os.environ.get(AUTHORIZATION_VARIABLE)
    if authorization:
        request.add_header("Authorization", authorization)
    shown = uri.redacted()
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            expected_length = response.headers.get("Content-Length")
            with archive.open("wb") as stream:
                shutil.copyfileobj(response, stream, 1 << 20)
        if expected_length is not None and archive.stat().st_size != int(expected_length):
            raise TransientFetchError(f"{shown}: connection closed before the whole body arrived")
    except urllib.error.HTTPError as error:
        if error.code in _TRANSIENT_STATUSES:
            raise TransientFetchError(f"{shown} answered HTTP {error.code}") from error
        if error.code == 404:
            raise FetchError(f"{shown} does not exist (HTTP 404); check the uri") from error
        if error.code in (401, 403):
            raise FetchError(
                f"{shown} refused access (HTTP {error.code}); check the credentials in"
                f" {AUTHORIZATION_VARIABLE} or the uri's signature"
            ) from error
        raise FetchError(f"{shown} answered HTTP {error.code}") from error
    except (
        urllib.error.URLError,
        http.client.HTTPException,
        ConnectionError,
        TimeoutError,
    ) as error:
        reason = getattr(error, "reason", error)
        raise TransientFetchError(f"cannot download {shown}: {reason}") from error


def download_http_uri(uri: ModelUri, target: Path, scratch: Path) -> None:
    """Download the archive (retrying transient failures) and extract it into ``target``."""
    archive = scratch / "repository.tar"
    with_retries(lambda: _download_once(uri, archive), f"downloading {uri.redacted()}")
    extract_repository_archive(archive, target, uri.redacted())


def download_http_object(uri: ModelUri, destination: Path) -> None:
    """Download one file (retrying transient failures)."""
    with_retries(lambda: _download_once(uri, destination), f"downloading {uri.redacted()}")
