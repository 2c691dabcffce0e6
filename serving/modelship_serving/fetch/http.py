"""http(s):// uris: always a tar archive of the repository.

The Authorization header from MODELSHIP_HTTP_AUTHORIZATION is sent only to the origin
(scheme, host and port) of the uri it was given for, as RFC 9110 section 11 and 15.4 intend:
a redirect elsewhere is followed without it. A redirect from https to anything but https is
refused, credentials or not, since it would expose the request (and a presigned uri's
successor) in clear text.
"""

from __future__ import annotations

import http.client
import os
import urllib.error
import urllib.request
from http.client import HTTPMessage
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from modelship_serving.errors import FetchError
from modelship_serving.fetch.archive import extract_repository_archive
from modelship_serving.fetch.limits import CHUNK_BYTES, FetchBudget, disk_bytes, unlimited
from modelship_serving.fetch.retry import TransientFetchError, with_retries
from modelship_serving.fetch.uri import ModelUri, redact_uri

AUTHORIZATION_VARIABLE = "MODELSHIP_HTTP_AUTHORIZATION"
_TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]


def origin_of(url: str) -> Origin:
    """(scheme, host, port) of an http(s) url, with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme, 0)


def redirect_keeps_credentials(from_url: str, to_url: str, credentials_origin: Origin) -> bool:
    """Whether a redirect from ``from_url`` to ``to_url`` may carry the credentials given for
    ``credentials_origin``; FetchError for a redirect that must not be followed at all."""
    source, target = origin_of(from_url), origin_of(to_url)
    if target[0] not in _DEFAULT_PORTS:
        raise FetchError(
            f"{redact_uri(from_url)} redirects to {redact_uri(to_url)}, which is not http(s);"
            " refused"
        )
    if source[0] == "https" and target[0] != "https":
        raise FetchError(
            f"{redact_uri(from_url)} redirects to {redact_uri(to_url)}, from https to plain"
            " http; refused: fix the server or give the final https uri"
        )
    return target == credentials_origin


class _OriginBoundRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects, re-attaching the credentials only on their own origin."""

    def __init__(self, authorization: str | None, credentials_origin: Origin) -> None:
        self.authorization = authorization
        self.credentials_origin = credentials_origin

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        try:
            keep = redirect_keeps_credentials(req.full_url, newurl, self.credentials_origin)
        except FetchError:
            fp.close()
            raise
        redirected = super().redirect_request(req, fp, code, msg, headers, newurl)
        if redirected is not None:
            redirected.remove_header("Authorization")
            if keep and self.authorization:
                redirected.add_unredirected_header("Authorization", self.authorization)
        return redirected


def _open(uri: ModelUri, budget: FetchBudget) -> Any:
    request = urllib.request.Request(uri.raw, headers={"User-Agent": "modelship-fetch"})
    authorization = os.environ.get(AUTHORIZATION_VARIABLE) or None
    if authorization:
        # Unredirected: urllib never copies it onto a redirect; the handler decides.
        request.add_unredirected_header("Authorization", authorization)
    opener = urllib.request.build_opener(_OriginBoundRedirects(authorization, origin_of(uri.raw)))
    return opener.open(request, timeout=budget.read_timeout())


def _content_length(response: Any, shown: str) -> int | None:
    value = response.headers.get("Content-Length")
    if value is None:
        return None
    if not value.strip().isdigit():
        raise FetchError(f"{shown} answered an invalid Content-Length {value[:40]!r}")
    return int(value)


def _download_once(uri: ModelUri, archive: Path, budget: FetchBudget) -> None:
    shown = uri.redacted()
    budget.check_time(f"downloading {shown}")
    try:
        with _open(uri, budget) as response:
            expected_length = _content_length(response, shown)
            if expected_length is not None:  # refuse what cannot fit before taking a byte
                budget.ensure_room(disk_bytes(expected_length), shown)
            # read1: return what has arrived, so the deadline is checked between arrivals.
            chunks = iter(lambda: response.read1(CHUNK_BYTES), b"")
            received = budget.write_stream(chunks, archive, shown)
        if expected_length is not None and received != expected_length:
            budget.refund(disk_bytes(received))
            raise TransientFetchError(
                f"{shown}: connection closed after {received} of {expected_length} bytes"
            )
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
        budget.check_time(f"downloading {shown}")  # a read cut short by the deadline
        reason = getattr(error, "reason", error)
        raise TransientFetchError(f"cannot download {shown}: {reason}") from error


def download_http_uri(uri: ModelUri, target: Path, scratch: Path, budget: FetchBudget) -> None:
    """Download the archive (retrying transient failures) and extract it into ``target``."""
    archive = scratch / "repository.tar"
    with_retries(
        lambda: _download_once(uri, archive, budget),
        f"downloading {uri.redacted()}",
        sleep=budget.sleep,
    )
    extract_repository_archive(archive, target, uri.redacted(), budget)


def download_http_object(
    uri: ModelUri, destination: Path, budget: FetchBudget | None = None
) -> None:
    """Download one file (retrying transient failures)."""
    limits = budget or unlimited()
    with_retries(lambda: _download_once(uri, destination, limits), f"downloading {uri.redacted()}")
