"""Retrying transient failures (network hiccups, 5xx, throttling) with exponential backoff."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from modelship_serving.errors import FetchError

T = TypeVar("T")
logger = logging.getLogger(__name__)

DEFAULT_ATTEMPTS = 5
DEFAULT_FIRST_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 8.0


class TransientFetchError(FetchError):
    """A failure worth retrying; after the last attempt it is reported as it is."""


def with_retries(
    action: Callable[[], T],
    what: str,
    attempts: int = DEFAULT_ATTEMPTS,
    first_delay: float = DEFAULT_FIRST_DELAY_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``action``; on TransientFetchError wait and try again, up to ``attempts`` times."""
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except TransientFetchError as error:
            if attempt == attempts:
                raise FetchError(f"{what} failed after {attempts} attempts: {error}") from error
            logger.warning(
                "%s failed (attempt %d of %d): %s; retrying", what, attempt, attempts, error
            )
            sleep(delay)
            delay = min(delay * 2, MAX_DELAY_SECONDS)
    raise AssertionError("unreachable")


def call_with_retries(
    action: Callable[[], T], translate: Callable[[Exception], Exception], what: str
) -> T:
    """Run ``action`` under :func:`with_retries`, raising each failure as ``translate`` maps it:
    a TransientFetchError is retried, a FetchError says what to fix, and an error it returns
    unchanged propagates as it is."""

    def attempt() -> T:
        try:
            return action()
        except Exception as error:
            translated = translate(error)
            if translated is error:
                raise
            raise translated from error

    return with_retries(attempt, what)
