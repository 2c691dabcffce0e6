"""`modelship serve`: run the real Triton server on a packaged model repository."""

from __future__ import annotations

import signal
import socket
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import click
from modelship_serving.cli_support import user_errors


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)  # runs the finally below, which stops Triton


def _check_ports_free(address: str, ports: dict[str, int]) -> None:
    """Refuse a port another process holds: Triton would only say so deep in its log."""
    for option, port in ports.items():
        if port == 0:
            continue
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind
            try:
                probe.bind((address, port))
            except OSError as error:
                raise click.ClickException(
                    f"cannot use {address}:{port} ({option}): {error.strerror}; stop what holds"
                    f" it or choose another {option}"
                ) from error


@click.command(
    help="Serve the model repository DIR (written by `modelship package`) on Triton and print"
    " its endpoints; Ctrl-C stops it. Uses the tritonserver from the nvidia-pytriton wheel"
    " unless --tritonserver is given. ONNX models are served through the python backend"
    " when the local Triton build has no onnxruntime backend."
)
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--http-port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--grpc-port", default=8001, show_default=True, type=click.IntRange(0, 65535))
@click.option("--metrics-port", default=8002, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--address",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; 0.0.0.0 exposes Triton to the network.",
)
@click.option(
    "--tritonserver",
    type=click.Path(path_type=Path),
    help="tritonserver binary to run instead of the one found automatically.",
)
@click.option(
    "--log-verbose", default=0, type=click.IntRange(min=0), help="Triton's --log-verbose level."
)
def serve(directory: Path, **options: Any) -> None:
    """See the help text above. The options are TritonServerSettings' fields, by name."""
    with user_errors():
        from modelship_serving.triton.repository import model_directories
        from modelship_serving.triton.server import TritonServer, TritonServerSettings

        settings = TritonServerSettings(repository=directory, **options)
        models = [model.name for model in model_directories(directory)]
        _check_ports_free(
            settings.address,
            {
                "--http-port": settings.http_port,
                "--grpc-port": settings.grpc_port,
                "--metrics-port": settings.metrics_port,
            },
        )
        server = TritonServer(settings)
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            endpoints = server.start(log_to_console=settings.log_verbose > 0)
            click.echo(f"Triton is serving {', '.join(models)} from {directory}")
            click.echo(
                f"  HTTP     {endpoints.http}   (e.g. curl {endpoints.http}/v2/models/{models[0]})"
            )
            click.echo(f"  gRPC     {endpoints.grpc}")
            click.echo(f"  metrics  {endpoints.metrics}")
            click.echo("Press Ctrl-C to stop.")
            status = server.wait()
            if status != 0:
                raise click.ClickException(
                    f"tritonserver exited with status {status}:\n{server.log_tail()}"
                )
        except KeyboardInterrupt:
            click.echo("Stopping Triton.")
        finally:
            server.stop()
