"""Option shapes the `modelship` subcommands share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def int_option(*param_decls: str, default: int, minimum: int, help: str) -> Callable[[F], F]:
    """An integer option of at least `minimum`, with its default shown in --help."""
    return click.option(
        *param_decls,
        default=default,
        show_default=True,
        type=click.IntRange(min=minimum),
        help=help,
    )


def float_option(*param_decls: str, default: float, help: str) -> Callable[[F], F]:
    """A number option, with its default shown in --help."""
    return click.option(*param_decls, default=default, show_default=True, type=float, help=help)
