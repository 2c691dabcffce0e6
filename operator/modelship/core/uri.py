"""Showing a uri without its secrets, for everything the operator persists or logs.

A presigned URL carries its signature in the query string and a uri may carry a password
in its user info; neither may reach pod annotations, arguments shown in status, Events
or logs. One rule, shared with the data plane (`modelship score` and `fetch` use the same
function), so that what the operator shows and what a pod records always agree.
"""

from __future__ import annotations

from modelship_serving.fetch.uri import redact_uri


def redact(uri: str) -> str:
    """``uri`` without ``user:password@``, ``?query`` and ``#fragment``: safe to persist.

    >>> redact("https://user:pw@bucket.example.com/in/day.csv?X-Amz-Signature=abc")
    'https://bucket.example.com/in/day.csv'
    """
    return redact_uri(uri)
