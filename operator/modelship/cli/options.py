"""Option shapes the `modelship` subcommands share."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from modelship_serving.fetch.limits import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT_SECONDS

F = TypeVar("F", bound=Callable[..., Any])


def int_option(
    *param_decls: str, default: int | None = None, minimum: int, help: str
) -> Callable[[F], F]:
    """An integer option of at least `minimum`, with its default shown in --help (None when
    it has none and is not given)."""
    return click.option(
        *param_decls,
        default=default,
        show_default=default is not None,
        type=click.IntRange(min=minimum),
        help=help,
    )


def preferred_batch_size_option(function: F) -> F:
    """--preferred-batch-size (the parameter preferred_batch_sizes), repeatable: the batch
    sizes Triton's dynamic batcher aims for."""
    return click.option(
        "--preferred-batch-size",
        "preferred_batch_sizes",
        multiple=True,
        type=click.IntRange(min=1),
        help="A batch size the dynamic batcher aims for (repeatable).",
    )(function)


def float_option(*param_decls: str, default: float, help: str) -> Callable[[F], F]:
    """A number option, with its default shown in --help."""
    return click.option(*param_decls, default=default, show_default=True, type=float, help=help)


def fetch_limit_options(function: F) -> F:
    """--max-bytes and --timeout-seconds: the limits of `modelship fetch`, for each fetch of a
    model repository (also from MODELSHIP_FETCH_MAX_BYTES, MODELSHIP_FETCH_TIMEOUT_SECONDS)."""
    function = click.option(
        "--timeout-seconds",
        type=click.FloatRange(min=0, min_open=True),
        default=DEFAULT_TIMEOUT_SECONDS,
        show_default=True,
        envvar="MODELSHIP_FETCH_TIMEOUT_SECONDS",
        show_envvar=True,
        help="Deadline for the whole fetch, retries included.",
    )(function)
    return click.option(
        "--max-bytes",
        type=click.IntRange(min=1),
        default=DEFAULT_MAX_BYTES,
        show_default=True,
        envvar="MODELSHIP_FETCH_MAX_BYTES",
        show_envvar=True,
        help="Most bytes a fetch of a model repository may write: a downloaded archive and the"
        " files it holds both count, each file rounded up to 4 KiB blocks. The fetch stops as"
        " soon as it is passed. Size the volume it writes to (for `modelship fetch`, the model"
        " volume's emptyDir sizeLimit) to at least this.",
    )(function)


def model_options(repository_help: str) -> Callable[[F], F]:
    """--model-repo, a model repository (a folder) as `modelship package` writes it
    (``repository_help`` says whose), and --model (the parameter model_name), the model's
    name in it."""

    def add(function: F) -> F:
        function = click.option(
            "--model", "model_name", required=True, help="Model name in the repository."
        )(function)
        return click.option(
            "--model-repo",
            required=True,
            type=click.Path(path_type=Path, file_okay=False),
            help=repository_help,
        )(function)

    return add
