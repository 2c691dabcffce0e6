"""`modelship demo`: train, package, serve on Triton, query, score in batch, render, in one go."""

from __future__ import annotations

from typing import Any

import click
from modelship_serving.cli_support import user_errors

from modelship.api import ModelDeployment
from modelship.builders import build_model_deployment_children, resolve_model, steady_plan


def demo_model_deployment(sha256: str) -> ModelDeployment:
    """The ModelDeployment that would serve the demo's model from object storage."""
    return ModelDeployment.model_validate(
        {
            "metadata": {"name": "wine", "namespace": "ml"},
            "spec": {
                "model": {
                    "name": "wine",
                    "version": "1",
                    "uri": "s3://models/wine/1",
                    "sha256": sha256,
                    "credentialsSecret": "model-store",
                },
                "autoscaling": {"minReplicas": 1, "maxReplicas": 4},
                "batch": [
                    {
                        "name": "nightly",
                        "schedule": "0 2 * * *",
                        "input": {"uri": "s3://data/wine/{date}.csv"},
                        "output": {"uri": "s3://scores/wine/{date}.parquet"},
                    }
                ],
            },
        }
    )


def _describe(child: dict[str, Any]) -> str:
    return f"{child['kind']} {child['metadata']['namespace']}/{child['metadata']['name']}"


@click.command(
    help="Train a small scikit-learn pipeline on the bundled wine data, package it, serve it"
    " on the real Triton server, send requests over HTTP and gRPC, print the predictions next"
    " to scikit-learn's, shut Triton down, score the held-out rows (and a drifted copy) as a"
    " batch job would, and show what the operator would create to serve the model."
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

        sha256 = run_demo(click.echo, rows)
    md = demo_model_deployment(sha256)
    children = build_model_deployment_children(md, steady_plan(md, resolve_model(md)))
    click.echo(
        "7. In a cluster, this ModelDeployment (see `modelship render`) would become:\n"
        + "\n".join(f"   {_describe(child)}" for child in children)
    )
