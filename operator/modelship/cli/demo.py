"""`modelship demo`: train, package, serve on Triton and query, in one go."""

from __future__ import annotations

import click
from modelship_serving.cli_support import user_errors


@click.command(
    help="Train a small scikit-learn pipeline on the bundled wine data, package it, serve it"
    " on the real Triton server, send requests over HTTP and gRPC, print the predictions next"
    " to scikit-learn's, and shut Triton down."
)
@click.option(
    "--rows",
    default=6,
    show_default=True,
    type=click.IntRange(1, 44),
    help="Held-out rows to send.",
)
def demo(rows: int) -> None:
    """See the help text above."""
    with user_errors():
        from modelship_serving.demo import run_demo

        run_demo(click.echo, rows)
