"""What can go wrong talking to the API server, in the terms the reconcile loop acts on."""

from __future__ import annotations


class KubeError(Exception):
    """An API request failed."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotFoundError(KubeError):
    """The object (or its kind) does not exist."""


class AlreadyExistsError(KubeError):
    """Create found an object of that name."""


class ConflictError(KubeError):
    """The object changed under us (a stale resourceVersion): read again and retry."""


class RejectedError(KubeError):
    """The API server refused the object (422 Invalid, 403 Forbidden, 400 BadRequest)."""


class UnavailableError(KubeError):
    """Throttled (429), a server error (5xx) or no connection: retry after a while."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message, status)
        self.retry_after = retry_after
