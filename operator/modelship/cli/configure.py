"""`modelship configure`: the init container step that tunes a fetched model to its pod."""

from __future__ import annotations

from pathlib import Path

import click
from modelship_serving.cli_support import user_errors
from modelship_serving.configure import InstanceKind, ServingOverrides, configure_model

from modelship.cli.options import int_option, preferred_batch_size_option


@click.command(
    help=(
        "Replace the instance group and dynamic batching settings in "
        "REPOSITORY/MODEL/config.pbtxt with the ModelDeployment's serving settings."
    )
)
@click.option(
    "--repository",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Model repository fetched by `modelship fetch`.",
)
@click.option("--model", required=True, help="Model name (its directory in the repository).")
@click.option("--instance-count", default=1, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--instance-kind",
    default="KIND_CPU",
    show_default=True,
    type=click.Choice(["KIND_CPU", "KIND_GPU"]),
)
@int_option(
    "--max-queue-delay-microseconds",
    minimum=0,
    help="Turn dynamic batching on with this queue delay.",
)
@preferred_batch_size_option
def configure(
    repository: Path,
    model: str,
    instance_count: int,
    instance_kind: InstanceKind,
    max_queue_delay_microseconds: int | None,
    preferred_batch_sizes: tuple[int, ...],
) -> None:
    if preferred_batch_sizes and max_queue_delay_microseconds is None:
        # Without it the packaged batching stays as it is and the sizes would be dropped unsaid.
        raise click.UsageError(
            "--preferred-batch-size tunes dynamic batching: give --max-queue-delay-microseconds"
            " too (0 batches what has arrived without waiting)"
        )
    overrides = ServingOverrides(
        instance_count=instance_count,
        instance_kind=instance_kind,
        max_queue_delay_microseconds=max_queue_delay_microseconds,
        preferred_batch_sizes=list(preferred_batch_sizes),
    )
    with user_errors():
        path = configure_model(repository, model, overrides)
    click.echo(f"Configured {path}: {instance_count} x {instance_kind}")
