"""Write a Triton model repository for one model version, all or nothing.

Layout written under the output directory ``DIR``::

    DIR/NAME/config.pbtxt
    DIR/NAME/modelship.json          metadata (see modelship_serving.metadata)
    DIR/NAME/VERSION/model.onnx
    DIR/NAME/VERSION/model.py        only with the python backend

Everything is built in a temporary directory beside the target and renamed
into place only after the converted model passed the parity check, so a
failure never leaves a half-written model behind.
"""

from __future__ import annotations

import platform
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import pandas as pd

from modelship_serving.digest import file_sha256, repository_sha256
from modelship_serving.errors import (
    OutputExistsError,
    PackagingError,
    SampleError,
    UnsupportedModelError,
)
from modelship_serving.metadata import (
    METADATA_FILENAME,
    Lineage,
    ModelMetadata,
)
from modelship_serving.packaging import fallback as pickle_fallback
from modelship_serving.packaging.loading import load_model, load_sample
from modelship_serving.packaging.parity import (
    DEFAULT_ABSOLUTE_TOLERANCE,
    DEFAULT_RELATIVE_TOLERANCE,
    check_parity,
)
from modelship_serving.packaging.pytorch import is_torch_module
from modelship_serving.packaging.sources import Packaged, from_onnx, from_sklearn, from_torch
from modelship_serving.profile import profile_frame
from modelship_serving.triton.config import ModelConfigOptions, output_specs, render_model_config

MODEL_FILENAME = "model.onnx"
PYTHON_MODEL_FILENAME = "model.py"
# A DNS-1123 label, what a ModelDeployment's spec.model.name takes (and a valid Triton name).
_NAME_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_LIBRARIES = (
    "modelship",
    "scikit-learn",
    "skl2onnx",
    "onnxmltools",
    "xgboost",
    "xgboost-cpu",
    "lightgbm",
    "catboost",
    "torch",
    "onnx",
    "onnxruntime",
    "numpy",
    "pandas",
    "pyarrow",
)


@dataclass(frozen=True)
class PackageResult:
    """What was written."""

    model_dir: Path
    repository_sha256: str
    """Digest of a repository holding only this model (what `spec.model.sha256` wants)."""
    output_repository_sha256: str
    """Digest of the whole output directory (differs when it holds other models too)."""
    metadata: ModelMetadata


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries that shape the converted model."""
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


def python_model_source() -> Path:
    """The python-backend runner that becomes model.py."""
    return Path(__file__).resolve().parent.parent / "triton" / "onnx_python_model.py"


def validate_name_and_version(name: str, version: str) -> None:
    """A name a ModelDeployment can serve (spec.model.name) and a positive integer version."""
    if not _NAME_PATTERN.match(name):
        raise PackagingError(
            f"model name {name!r} must be a DNS-1123 label, as spec.model.name of a"
            " ModelDeployment: at most 63 lower case letters, digits and '-', starting and"
            " ending with a letter or digit, e.g. 'churn-model'"
        )
    if not version.isdigit() or int(version) < 1:
        raise PackagingError(f"model version {version!r} must be a positive integer, e.g. 1")


def package_model(
    model_path: Path,
    sample_path: Path,
    name: str,
    version: str,
    output_dir: Path,
    lineage: Lineage | None = None,
    config_options: ModelConfigOptions | None = None,
    absolute_tolerance: float = DEFAULT_ABSOLUTE_TOLERANCE,
    relative_tolerance: float = DEFAULT_RELATIVE_TOLERANCE,
    classes: list[str] | None = None,
    fallback: bool = True,
) -> PackageResult:
    """Convert, check and write one model version; see the module docstring.

    ``classes`` names the score columns of an ONNX classifier or a PyTorch network (it then
    gets a label output); ``fallback`` lets a model no converter carries ship as its pinned
    pickle.
    """
    _check_destination(name, version, output_dir)
    loaded = load_model(model_path)
    sample = load_sample(sample_path)
    if loaded.torch_module is not None:
        packaged = from_torch(
            loaded.torch_module, sample, classes, absolute_tolerance, relative_tolerance
        )
    elif loaded.sklearn_model is not None:
        if classes is not None:
            raise PackagingError(
                "--classes is for ONNX files and PyTorch networks; a scikit-learn model carries"
                " its own classes"
            )
        packaged = from_sklearn(
            loaded.sklearn_model,
            model_path,
            sample,
            absolute_tolerance,
            relative_tolerance,
            fallback,
        )
    else:
        assert loaded.onnx_model is not None
        packaged = from_onnx(loaded.onnx_model, sample, classes)
    return _write(packaged, sample, name, version, output_dir, lineage, config_options)


def package_torch_module(
    module: Any,
    sample: pd.DataFrame,
    name: str,
    version: str,
    output_dir: Path,
    lineage: Lineage | None = None,
    config_options: ModelConfigOptions | None = None,
    absolute_tolerance: float = DEFAULT_ABSOLUTE_TOLERANCE,
    relative_tolerance: float = DEFAULT_RELATIVE_TOLERANCE,
    classes: list[str] | None = None,
) -> PackageResult:
    """`package_model` for a torch.nn.Module in memory (a notebook's network), whose input
    features are ``sample``'s columns, in order; see packaging/pytorch.py."""
    _check_destination(name, version, output_dir)
    if not is_torch_module(module):
        raise UnsupportedModelError(
            f"a {type(module).__module__}.{type(module).__qualname__} is not a torch.nn.Module;"
            " give the network itself, or use package_model with a model file"
        )
    if sample.empty:
        raise SampleError("the sample has no rows; give a few hundred rows of training input")
    packaged = from_torch(module, sample, classes, absolute_tolerance, relative_tolerance)
    return _write(packaged, sample, name, version, output_dir, lineage, config_options)


def _check_destination(name: str, version: str, output_dir: Path) -> None:
    validate_name_and_version(name, version)
    target = output_dir / name
    if target.exists():
        raise OutputExistsError(
            f"{target} already exists; choose another --output or --name, or remove it"
        )
    if output_dir.exists() and not output_dir.is_dir():
        raise PackagingError(f"output {output_dir} exists and is not a directory")


def _write(
    packaged: Packaged,
    sample: pd.DataFrame,
    name: str,
    version: str,
    output_dir: Path,
    lineage: Lineage | None,
    config_options: ModelConfigOptions | None,
) -> PackageResult:
    """Write what one path gave, all or nothing (see the module docstring)."""
    options = config_options or ModelConfigOptions()
    target = output_dir / name
    if packaged.environment is not None:
        options = options.model_copy(update={"backend": "python"})
    schema = packaged.schema
    outputs = output_specs(packaged.signature, packaged.task)
    profile = profile_frame(
        sample,
        [column.name for column in schema.columns if column.kind == "numeric"],
        [column.name for column in schema.columns if column.kind == "categorical"],
    )
    config_text = render_model_config(name, packaged.signature, options)

    staging_parent = output_dir if output_dir.exists() else output_dir.parent
    try:
        staging_parent.mkdir(parents=True, exist_ok=True)
        staging_root = Path(tempfile.mkdtemp(prefix=".modelship-package-", dir=staging_parent))
    except OSError as error:
        raise PackagingError(
            f"cannot write {staging_parent} ({error.strerror}): give an --output in a folder"
            " you can write"
        ) from error
    staging_root.chmod(0o755)  # mkdtemp makes it private; it may become the repository itself
    try:
        staged_model_dir = staging_root / name
        version_dir = staged_model_dir / version
        version_dir.mkdir(parents=True)
        parity = packaged.parity
        if packaged.environment is not None:
            model_file = pickle_fallback.MODEL_FILENAME
            assert packaged.pickle_path is not None
            pickle_fallback.write_pickled_model(
                version_dir, packaged.pickle_path, packaged.environment
            )
            # Parity of what was written, run by the written runner, in this environment.
            served = pickle_fallback.served_predictions(version_dir, schema)
            parity = check_parity(
                packaged.original,
                served,
                sample,
                schema,
                packaged.task,
                *packaged.tolerances,
            )
        else:
            model_file = MODEL_FILENAME
            (version_dir / MODEL_FILENAME).write_bytes(packaged.signature.SerializeToString())
            if options.backend == "python":
                shutil.copyfile(python_model_source(), version_dir / PYTHON_MODEL_FILENAME)
        (staged_model_dir / "config.pbtxt").write_text(config_text, encoding="utf-8")
        metadata = ModelMetadata(
            name=name,
            version=version,
            created_at=datetime.now(UTC),
            source_format=packaged.source_format,
            estimator=packaged.estimator,
            task=packaged.task,
            classes=packaged.classes,
            model_file=f"{version}/{model_file}",
            model_sha256=file_sha256(version_dir / model_file),
            backend=options.backend,
            libraries=library_versions(),
            lineage=lineage or Lineage(),
            input_schema=schema,
            outputs=outputs,
            parity=parity,
            fallback_reason=packaged.fallback_reason,
            reference_profile=profile,
        )
        metadata.write(staged_model_dir / METADATA_FILENAME)
        single_model_digest = repository_sha256(staging_root)
        if target.exists():
            raise OutputExistsError(f"{target} appeared while packaging; nothing was written")
        if output_dir.exists():
            staged_model_dir.rename(target)
        else:
            staging_root.rename(output_dir)
    finally:
        shutil.rmtree(staging_root, ignore_errors=True)
    return PackageResult(
        model_dir=target,
        repository_sha256=single_model_digest,
        output_repository_sha256=repository_sha256(output_dir),
        metadata=metadata,
    )
