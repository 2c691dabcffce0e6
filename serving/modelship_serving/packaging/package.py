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

import functools
import platform
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Literal

import onnx
import pandas as pd

from modelship_serving.digest import file_sha256, repository_sha256
from modelship_serving.errors import (
    OutputExistsError,
    PackagingError,
    ParityError,
    SampleError,
    UnsupportedModelError,
    one_line,
)
from modelship_serving.metadata import (
    METADATA_FILENAME,
    InputSchema,
    Lineage,
    ModelMetadata,
    ParityReport,
)
from modelship_serving.packaging import fallback as pickle_fallback
from modelship_serving.packaging import pytorch
from modelship_serving.packaging.boosting import is_catboost
from modelship_serving.packaging.convert import (
    convert_sklearn_model,
    final_estimator,
    model_task,
    with_per_column_inputs,
)
from modelship_serving.packaging.loading import load_model, load_sample
from modelship_serving.packaging.onnx_files import (
    check_class_count,
    class_labels,
    joined_input,
    joined_input_schema,
    with_label_output,
)
from modelship_serving.packaging.parity import (
    DEFAULT_ABSOLUTE_TOLERANCE,
    DEFAULT_RELATIVE_TOLERANCE,
    PARITY_FAILED,
    GraphRunError,
    check_parity,
    model_inputs,
    onnx_session,
    original_predictions,
    run_onnx,
)
from modelship_serving.packaging.precision import Precision, schema_for
from modelship_serving.packaging.pytorch import is_torch_module
from modelship_serving.packaging.schema import (
    schema_from_onnx,
    schema_from_sample,
    sklearn_input_columns,
)
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


@dataclass(frozen=True)
class _Packaged:
    """What one path (a conversion, an ONNX file, the pickle fallback) gives to be written."""

    signature: onnx.ModelProto
    """The served graph, or (fallback) a graph of its inputs and outputs only."""
    schema: InputSchema
    task: Literal["classification", "regression", "unknown"]
    source_format: Literal["sklearn", "onnx", "pickle", "torch"]
    estimator: str | None = None
    classes: list[Any] | None = None
    parity: ParityReport | None = None
    fallback_reason: str | None = None
    environment: dict[str, Any] | None = None
    """The fallback's pinned environment; None for an ONNX graph."""
    original: Any = None
    """The fallback's model, whose answers the written pickle's are checked against."""
    pickle_path: Path | None = None
    """The fallback's pickle file, written as it is."""
    tolerances: tuple[float, float] = (DEFAULT_ABSOLUTE_TOLERANCE, DEFAULT_RELATIVE_TOLERANCE)
    """The fallback's parity tolerances (atol, rtol), for its check of what is written."""


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
        packaged = _from_torch(
            loaded.torch_module, sample, classes, absolute_tolerance, relative_tolerance
        )
    elif loaded.sklearn_model is not None:
        if classes is not None:
            raise PackagingError(
                "--classes is for ONNX files and PyTorch networks; a scikit-learn model carries"
                " its own classes"
            )
        packaged = _from_sklearn(
            loaded.sklearn_model,
            model_path,
            sample,
            absolute_tolerance,
            relative_tolerance,
            fallback,
        )
    else:
        assert loaded.onnx_model is not None
        packaged = _from_onnx(loaded.onnx_model, sample, classes)
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
    packaged = _from_torch(module, sample, classes, absolute_tolerance, relative_tolerance)
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
    packaged: _Packaged,
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


def _from_sklearn(
    model: Any,
    model_path: Path,
    sample: pd.DataFrame,
    absolute_tolerance: float,
    relative_tolerance: float,
    allow_fallback: bool,
) -> _Packaged:
    """Converted with parity; else, when allowed, the pinned pickle (parity checked later,
    on what is written)."""
    estimator = f"{type(model).__module__}.{type(model).__qualname__}"
    if not hasattr(model, "predict"):
        raise UnsupportedModelError(
            f"{type(final_estimator(model)).__name__} has no predict method: it labels only the"
            " rows it was fitted on, so there is nothing to serve for new rows; package a model"
            " that predicts (for clusters: KMeans, or a classifier trained on the cluster labels)"
        )
    schema = schema_from_sample(sample, sklearn_input_columns(model, sample))
    # The original must take the sample first: a type problem is the sample's, not skl2onnx's.
    inputs = model_inputs(model, sample, schema.column_names())
    original_predictions(model, inputs)
    task = model_task(model)
    classes_attr = getattr(model, "classes_", None)
    classes = (
        None
        if classes_attr is None or isinstance(classes_attr, list)  # a list per output
        else [c.item() if hasattr(c, "item") else c for c in classes_attr]
    )
    try:
        converted, schema, parity = _convert_with_parity(
            model, schema, sample, task, absolute_tolerance, relative_tolerance
        )
    except SampleError:
        raise
    except PackagingError as failure:
        if not allow_fallback:
            raise
        reason = one_line(failure)
        reason = reason if len(reason) <= 400 else reason[:397] + "..."
        served_schema = schema_for(schema, "float64")
        pickled = pickle_fallback.pickled_model(model, inputs, served_schema, task)
        return _Packaged(
            signature=pickled.signature,
            schema=served_schema,
            task=task,
            source_format="pickle",
            estimator=estimator,
            classes=classes,
            fallback_reason=reason,
            environment=pickled.environment,
            original=model,
            pickle_path=model_path,
            tolerances=(absolute_tolerance, relative_tolerance),
        )
    return _Packaged(converted, schema, task, "sklearn", estimator, classes, parity)


def _from_onnx(
    model: onnx.ModelProto, sample: pd.DataFrame, classes: list[str] | None
) -> _Packaged:
    """An ONNX file: one input per column, or one [batch, k] input joined from the columns."""
    joined = joined_input(model)
    if joined is not None:
        schema = joined_input_schema(joined, sample)
        model = with_per_column_inputs(
            model, schema, joined_input=joined.name, element_type=joined.type.tensor_type.elem_type
        )
    else:
        schema = schema_from_onnx(model, sample)
    if classes is not None:
        model = with_label_output(model, classes)
    answers = run_onnx(onnx_session(model), sample, schema)  # it must at least run on the sample
    if classes is not None:
        check_class_count(list(answers.values())[1], classes)
    task = _onnx_task(model)
    labels = None if classes is None else class_labels(classes)
    return _Packaged(model, schema, task, "onnx", classes=labels)


def _from_torch(
    module: Any,
    sample: pd.DataFrame,
    classes: list[str] | None,
    absolute_tolerance: float,
    relative_tolerance: float,
) -> _Packaged:
    """A PyTorch network, exported to ONNX and joined to per-column inputs like an ONNX
    file's [batch, k] input; parity against the module's own outputs (in eval mode)."""
    labels = None if classes is None else class_labels(classes)
    dtype = pytorch.input_dtype(module)
    reference = pytorch.TorchReference(module, dtype, labels)
    was_training = bool(module.training)
    module.eval()  # dropout off, batch norm on its running statistics: as it predicts
    try:
        scores = pytorch.reference_outputs(reference, sample)
        if classes is not None:
            check_class_count(scores, classes)
        output = pytorch.SCORES_OUTPUT if classes is not None else pytorch.PREDICTION_OUTPUT
        model = pytorch.export_to_onnx(module, sample.iloc[:2], dtype, output)
        joined = model.graph.input[0]
        schema = joined_input_schema(joined, sample)
        model = with_per_column_inputs(
            model,
            schema,
            joined_input=joined.name,
            element_type=joined.type.tensor_type.elem_type,
        )
        if classes is not None:
            model = with_label_output(model, classes)
        task = _onnx_task(model)
        parity = check_parity(
            reference,
            functools.partial(run_onnx, onnx_session(model), schema=schema),
            sample,
            schema,
            task,
            absolute_tolerance,
            relative_tolerance,
        )
    finally:
        module.train(was_training)
    return _Packaged(
        model,
        schema,
        task,
        "torch",
        pytorch.module_name(module),
        labels,
        parity,
    )


def _convert_with_parity(
    model: Any,
    schema: InputSchema,
    sample: pd.DataFrame,
    task: str,
    absolute_tolerance: float,
    relative_tolerance: float,
) -> tuple[onnx.ModelProto, InputSchema, ParityReport]:
    """Convert in float32; only when its parity fails, retry in float64 (see precision.py).

    Whichever passes parity ships, with the schema it is served with; the tolerance is the
    same for both.
    """
    float32_failure: ParityError | None = None
    precisions: list[Precision] = ["float32"] if is_catboost(model) else ["float32", "float64"]
    for precision in precisions:
        served_schema = schema_for(schema, precision)
        try:
            converted = convert_sklearn_model(model, served_schema, precision)
            session = onnx_session(converted)
            parity = check_parity(
                model,
                functools.partial(run_onnx, session, schema=served_schema),
                sample,
                served_schema,
                task,
                absolute_tolerance,
                relative_tolerance,
            )
        except GraphRunError as failure:
            error: PackagingError = UnsupportedModelError(
                f"the graph skl2onnx converted fails on the sample in {precision} ({failure})"
            )
            if float32_failure is None:
                raise error from failure
            raise ParityError(
                f"{float32_failure}; the float64 retry failed too: {error}"
            ) from failure
        except ParityError as failure:
            if float32_failure is None:
                float32_failure = failure
                continue
            differences = str(failure).partition(f"{PARITY_FAILED}: ")[2] or str(failure)
            raise ParityError(
                f"{float32_failure}; the float64 retry (double preprocessing, float32 cast"
                f" before the trees) differs too: {differences}; without --no-fallback the model"
                " ships as its pinned pickle instead"
            ) from failure
        except PackagingError as failure:
            if float32_failure is None:
                raise
            raise ParityError(
                f"{float32_failure}; the float64 retry failed too: {failure}"
            ) from failure
        return converted, served_schema, parity.model_copy(update={"precision": precision})
    assert float32_failure is not None
    raise float32_failure


def _onnx_task(model: onnx.ModelProto) -> Literal["classification", "regression", "unknown"]:
    outputs = list(model.graph.output)
    first = outputs[0].type.tensor_type if outputs else None
    if first is None:
        return "unknown"
    if len(outputs) >= 2 and first.elem_type in (onnx.TensorProto.INT64, onnx.TensorProto.STRING):
        return "classification"
    if len(outputs) == 1 and first.elem_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE):
        return "regression"
    return "unknown"
