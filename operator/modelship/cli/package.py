"""`modelship package`: a thin click wrapper over modelship_serving.packaging."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click
from modelship_serving.cli_support import user_errors

from modelship.cli.options import float_option, int_option, preferred_batch_size_option

if TYPE_CHECKING:
    from modelship_serving.fetch.uri import ModelUri

PICKLE_WARNING = (
    "Loading a pickle or joblib file runs code stored in it: package only model files you trust."
)


def _parameters(values: tuple[str, ...]) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for value in values:
        key, separator, item = value.partition("=")
        if not separator or not key:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint="--param")
        parsed[key] = item
    return parsed


def _check_archive(archive: Path) -> None:
    """Refuse an --archive that could not be written, before anything is packaged."""
    from modelship_serving.errors import OutputExistsError, PackagingError

    if archive.exists():
        raise OutputExistsError(f"--archive {archive} already exists; remove it or choose another")
    if not archive.parent.is_dir():
        raise PackagingError(
            f"--archive {archive}: directory {archive.parent} does not exist; create it first"
        )


def _archive_and_push(
    output: Path,
    output_existed: bool,
    model_dir: Path,
    archive: Path,
    name: str,
    push: ModelUri | None,
) -> None:
    """Write the --archive and --push it; when either fails, remove what this run wrote
    (into --output, and the archive), so that the rerun finds nothing in its way."""
    from modelship_serving.errors import PackagingError
    from modelship_serving.fetch.archive import write_repository_archive
    from modelship_serving.packaging.push import push_archive

    try:
        write_repository_archive(output, archive, only_model=name)
        if push is not None:
            push_archive(archive, push)
    except (OSError, PackagingError) as error:
        shutil.rmtree(output if not output_existed else model_dir, ignore_errors=True)
        archive.unlink(missing_ok=True)
        reason = error.strerror or error if isinstance(error, OSError) else error
        doing = f"cannot write --archive {archive}" if isinstance(error, OSError) else "push"
        raise PackagingError(
            f"{doing}: {reason}; nothing was written to {output}, rerun once that is fixed"
        ) from error


@click.command(
    help=(
        "Turn MODEL (a pickled/joblib scikit-learn estimator or Pipeline; an .onnx file:"
        " one input per column, or one [N, k] input as torch.onnx.export writes it, whose k"
        " features are the sample's columns in order; or a PyTorch network, a TorchScript"
        " file or a torch.save'd module, exported to ONNX likewise, needs PyTorch) into a"
        " Triton model repository under --output.\n\n"
        "scikit-learn models are converted to ONNX with skl2onnx, preprocessing included,"
        " then run on the --sample rows and compared with the original: labels must agree"
        " and scores must match within --atol/--rtol, otherwise nothing is written. A model"
        " no converter carries ships as its pickle, pinned to this environment's library"
        " versions and served by Triton's python backend (see --no-fallback).\n\n"
        f"WARNING: {PICKLE_WARNING}"
    )
)
@click.argument("model", type=click.Path(path_type=Path))
@click.option(
    "--sample",
    required=True,
    type=click.Path(path_type=Path),
    help="CSV or Parquet sample of the training input (the model's columns).",
)
@click.option("--name", required=True, help="Model name (the Triton model directory).")
@click.option("--version", "model_version", required=True, help="Model version, an integer.")
@click.option(
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="Model repository directory to write into (created if missing).",
)
@click.option("--data-version", help="Lineage: version of the training data.")
@click.option("--data-uri", help="Lineage: where the training data lives.")
@click.option("--code-ref", help="Lineage: training code reference, e.g. a git commit.")
@click.option(
    "--param",
    "parameters",
    multiple=True,
    metavar="KEY=VALUE",
    help="Lineage: a training parameter (repeatable).",
)
@int_option(
    "--max-batch-size", default=64, minimum=0, help="Triton max_batch_size; 0 turns batching off."
)
@click.option(
    "--dynamic-batching/--no-dynamic-batching",
    default=True,
    show_default=True,
    help="Let Triton merge concurrent requests into batches.",
)
@int_option(
    "--max-queue-delay-us", default=100, minimum=0, help="Dynamic batcher's max queue delay."
)
@preferred_batch_size_option
@int_option("--instances", default=1, minimum=1, help="Model instances (instance_group count).")
@click.option(
    "--instance-kind",
    type=click.Choice(["cpu", "gpu"]),
    default="cpu",
    show_default=True,
    help="Run instances on CPU or GPU.",
)
@click.option(
    "--python-backend",
    is_flag=True,
    help="Write a python-backend model that runs the ONNX file with onnxruntime, for"
    " Triton builds without the onnxruntime backend.",
)
@click.option(
    "--archive",
    type=click.Path(path_type=Path),
    help="Also write this model's repository as a .tar.gz (for http(s)/s3/gs/az uris).",
)
@click.option(
    "--push",
    metavar="URI",
    help="Upload the archive to this .tar.gz uri (s3://, gs://, az://, file://, or http(s):// by"
    " PUT) and print a ModelDeployment that serves it; credentials from the environment.",
)
@click.option(
    "--classes",
    metavar="A,B,...",
    help="ONNX and PyTorch classifiers: the names of the score columns, in order; adds a"
    " label output"
    " (the name of each row's highest score).",
)
@click.option(
    "--fallback/--no-fallback",
    default=True,
    show_default=True,
    help="When no converter carries the model, ship its pickle pinned to this environment"
    " (python backend, slower); --no-fallback refuses instead.",
)
@float_option("--atol", default=1e-4, help="Parity: absolute tolerance on scores.")
@float_option("--rtol", default=1e-3, help="Parity: relative tolerance on scores.")
def package(
    model: Path,
    sample: Path,
    name: str,
    model_version: str,
    output: Path,
    data_version: str | None,
    data_uri: str | None,
    code_ref: str | None,
    parameters: tuple[str, ...],
    max_batch_size: int,
    dynamic_batching: bool,
    max_queue_delay_us: int,
    preferred_batch_sizes: tuple[int, ...],
    instances: int,
    instance_kind: str,
    python_backend: bool,
    archive: Path | None,
    push: str | None,
    classes: str | None,
    fallback: bool,
    atol: float,
    rtol: float,
) -> None:
    """See the help text above."""
    with user_errors():
        from modelship_serving.metadata import Lineage
        from modelship_serving.packaging.onnx_files import parse_classes
        from modelship_serving.packaging.package import package_model
        from modelship_serving.packaging.push import push_target, refuse_existing
        from modelship_serving.triton.config import ModelConfigOptions

        if archive is not None:
            _check_archive(archive)
        target = None if push is None else push_target(push)
        if target is not None:
            refuse_existing(target)
        lineage = Lineage(
            data_version=data_version,
            data_uri=data_uri,
            code_ref=code_ref,
            parameters=_parameters(parameters),
        )
        options = ModelConfigOptions(
            backend="python" if python_backend else "onnxruntime",
            max_batch_size=max_batch_size,
            dynamic_batching=dynamic_batching and max_batch_size > 0,
            max_queue_delay_microseconds=max_queue_delay_us,
            preferred_batch_sizes=list(preferred_batch_sizes),
            instance_count=instances,
            instance_kind="gpu" if instance_kind == "gpu" else "cpu",
        )
        output_existed = output.exists()
        result = package_model(
            model,
            sample,
            name,
            model_version,
            output,
            lineage,
            options,
            atol,
            rtol,
            classes=None if classes is None else parse_classes(classes),
            fallback=fallback,
        )
        if archive is not None:
            _archive_and_push(output, output_existed, result.model_dir, archive, name, target)
        elif target is not None:
            with tempfile.TemporaryDirectory(prefix="modelship-push-") as scratch:
                pushed = Path(scratch) / f"{name}-{model_version}.tar.gz"
                _archive_and_push(output, output_existed, result.model_dir, pushed, name, target)
    metadata = result.metadata
    click.echo(f"Wrote {result.model_dir} (version {metadata.version}, {metadata.backend} backend)")
    columns = ", ".join(f"{c.name}:{c.kind}" for c in metadata.input_schema.columns)
    click.echo(f"  inputs:  {columns}")
    click.echo(f"  outputs: {', '.join(spec.name for spec in metadata.outputs)}")
    if metadata.parity is not None:
        parity = metadata.parity
        click.echo(
            f"  parity:  {parity.rows_checked} rows agree (max score difference"
            f" {parity.max_absolute_difference:.3g}, atol={parity.absolute_tolerance:g},"
            f" rtol={parity.relative_tolerance:g})"
        )
        if parity.precision == "float64":
            click.echo(
                "  precision: float64 retry (float32 parity failed; numeric inputs are FP64)"
            )
        elif metadata.source_format == "torch":
            click.echo(f"  source:  PyTorch network {metadata.estimator}, exported to ONNX")
        elif metadata.source_format != "pickle":
            click.echo("  precision: float32")
    if metadata.fallback_reason is not None:
        click.echo(
            f"  fallback: no converter carries this model ({metadata.fallback_reason})."
            " It ships as its pickle, served by Triton's python backend: slower than ONNX,"
            " and it loads only where the versions in"
            f" {result.model_dir / metadata.version / 'requirements.txt'} are installed."
        )
    click.echo(f"sha256: {result.repository_sha256}")
    click.echo("  (digest of a repository holding only this model: put it in spec.model.sha256)")
    if archive is not None:
        click.echo(f"  archive: {archive} (same sha256 once fetched)")
    if result.output_repository_sha256 != result.repository_sha256:
        click.echo(f"  whole {output} (with its other models): {result.output_repository_sha256}")
    if target is not None:
        from modelship_serving.packaging.push import deployment_snippet

        click.echo(f"Pushed to {target.redacted()}; a ModelDeployment that serves it:")
        click.echo(
            deployment_snippet(name, model_version, target.redacted(), result.repository_sha256),
            nl=False,
        )
