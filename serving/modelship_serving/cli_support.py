"""What the `modelship` subcommands over this package share: turning user errors into one line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from modelship_serving.errors import ModelshipServingError


@contextmanager
def user_errors() -> Iterator[None]:
    """Show a ModelshipServingError, or an OSError (a disk full, a folder not writable), as
    `Error: <message>` and exit 1, without a traceback."""
    try:
        yield
    except ModelshipServingError as error:
        raise click.ClickException(str(error)) from error
    except OSError as error:  # a disk full, a folder not writable: what to fix, in one line
        where = f": {error.filename}" if error.filename else ""
        raise click.ClickException(f"{error.strerror or error}{where}") from error
