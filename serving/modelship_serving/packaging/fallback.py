"""The pinned fallback: serve the original pickle with Triton's python backend.

When no converter carries a model (or every conversion fails parity), `modelship package`
writes the user's file as it is (`model.pkl`), the runner `model.py`
(modelship_serving/triton/pickle_python_model.py) and `environment.json`: the interpreter
and the exact versions of every library the pickle's objects come from (found by walking the
loaded model), which the runner checks before it unpickles. Packaging refuses a model whose
code cannot be pinned (a function defined in the notebook, a module no installed
distribution provides). Parity runs the written runner on the written files, in this
environment, against the original: the same check, at the same tolerance, as a conversion.
The served interface is a converted package's: one [batch, 1] input per column (numbers as
FP64, so no value is rounded before the model sees it), label and probabilities, or
prediction.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import json
import platform
import sys
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pandas as pd
from onnx import TensorProto, helper

from modelship_serving.errors import PackagingError, UnsupportedModelError, one_line
from modelship_serving.metadata import InputColumn, InputSchema, ModelMetadata
from modelship_serving.packaging.outputs import LABEL_OUTPUT, PREDICTION_OUTPUT, scores_output
from modelship_serving.packaging.parity import takes_text_series
from modelship_serving.packaging.schema import frame_to_feeds
from modelship_serving.triton import pickle_python_model

MODEL_FILENAME = pickle_python_model.MODEL_FILE
ENVIRONMENT_FILENAME = pickle_python_model.ENVIRONMENT_FILE
REQUIREMENTS_FILENAME = "requirements.txt"
# What the runner itself imports, pinned whatever the model holds.
_RUNNER_LIBRARIES = ("numpy", "pandas", "joblib")
_ONNX_TYPES = {
    "BYTES": TensorProto.STRING,
    "INT64": TensorProto.INT64,
    "FP32": TensorProto.FLOAT,
    "BOOL": TensorProto.BOOL,
}


def runner_source() -> Path:
    """The python-backend runner that becomes model.py."""
    return Path(pickle_python_model.__file__)


def _referenced_modules(model: Any) -> set[str]:
    """Modules of every class, function and type reachable from ``model``'s attributes."""
    modules: set[str] = set()
    seen: set[int] = set()
    pending: list[Any] = [model]
    while pending:
        value = pending.pop()
        if id(value) in seen or value is None:
            continue
        seen.add(id(value))
        if isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType, np.ufunc)):
            modules.add(str(getattr(value, "__module__", None) or "builtins"))
            continue
        if isinstance(value, types.ModuleType):  # its name, not everything it holds
            modules.add(value.__name__)
            continue
        modules.add(type(value).__module__)
        if isinstance(value, (str, bytes, int, float, complex, bool, np.generic)):
            continue
        if isinstance(value, np.ndarray):
            if value.dtype == object:
                pending.extend(value.reshape(-1).tolist())
            continue
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, (list, tuple, set, frozenset)):
            pending.extend(value)
        elif isinstance(value, functools.partial):
            pending.extend([value.func, value.args, value.keywords])
        elif isinstance(value, types.MethodType):
            pending.extend([value.__func__, value.__self__])
        if hasattr(value, "__dict__"):
            pending.extend(vars(value).values())
    return modules


def _distribution_of(module: str, distributions: Mapping[str, list[str]]) -> str | None:
    top = module.split(".")[0]
    if top in sys.stdlib_module_names or top == "builtins":
        return None
    if top == "__main__":
        raise UnsupportedModelError(
            "the fallback cannot pin this model: it uses code defined in the notebook or script"
            " itself (__main__), which the serving side cannot import; move that code into a"
            " module of an installed package and pickle the model again"
        )
    names = distributions.get(top)
    if not names:
        raise UnsupportedModelError(
            f"the fallback cannot pin this model: it uses module {top!r}, which no installed"
            " distribution provides, so its version cannot be recorded nor installed where it"
            " is served; make it an installable package (pip install .) and package again"
        )
    return names[0]


def pinned_environment(model: Any) -> dict[str, Any]:
    """The interpreter and exact library versions the pickle needs (UnsupportedModelError
    when a part of it cannot be pinned)."""
    distributions = importlib.metadata.packages_distributions()
    names = set(_RUNNER_LIBRARIES)
    for module in _referenced_modules(model):
        name = _distribution_of(module, distributions)
        if name is not None:
            names.add(name)
    if "scikit-learn" in names:
        names.add("scipy")  # scikit-learn computes with it: its answers depend on its version
    packages: dict[str, str] = {}
    for name in sorted(names, key=str.lower):
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError as error:
            raise UnsupportedModelError(
                f"the fallback cannot pin this model: distribution {name} has no version here"
            ) from error
    return {"python": platform.python_version(), "packages": packages}


@dataclass(frozen=True)
class _Output:
    name: str
    method: str
    datatype: str
    width: int | None
    """Scores per row, or None for one value per row."""


def _datatype(values: np.ndarray[Any, Any], method: str) -> str:
    if method == "predict" and values.dtype.kind in "iu":
        return "INT64"
    if method == "predict" and values.dtype.kind == "b":
        return "BOOL"  # as the original: True, not "True"
    if method == "predict" and values.dtype.kind in "OUS":
        return "BYTES"
    return "FP32"


def _outputs(model: Any, inputs: Any, task: str) -> list[_Output]:
    """label and probabilities (or decision scores), or prediction, as converted packages."""
    predicted = np.asarray(model.predict(inputs))
    datatype = _datatype(predicted, "predict")
    label = task == "classification" or (task == "unknown" and datatype != "FP32")
    width = predicted.shape[1] if predicted.ndim == 2 else None
    outputs = [_Output(LABEL_OUTPUT if label else PREDICTION_OUTPUT, "predict", datatype, width)]
    if task != "classification" or isinstance(getattr(model, "classes_", None), list):
        return outputs  # a multi-output classifier: labels only, as when converted
    for method in ("predict_proba", "decision_function"):
        if not hasattr(model, method):
            continue
        try:
            scores = np.asarray(getattr(model, method)(inputs))
        except (AttributeError, NotImplementedError):
            continue
        columns = 1 if scores.ndim == 1 else scores.shape[1]
        outputs.append(_Output(scores_output(method), method, "FP32", columns))
        break
    return outputs


def _signature(schema: InputSchema, outputs: list[_Output]) -> onnx.ModelProto:
    """An ONNX graph of the inputs and outputs only: what the Triton config is written from."""
    inputs = [
        helper.make_tensor_value_info(
            column.tensor_name,
            TensorProto.STRING if column.kind == "categorical" else TensorProto.DOUBLE,
            [None, 1],
        )
        for column in schema.columns
    ]
    values = [
        helper.make_tensor_value_info(
            output.name,
            _ONNX_TYPES[output.datatype],
            [None] if output.width is None else [None, output.width],
        )
        for output in outputs
    ]
    return helper.make_model(helper.make_graph([], "modelship_pickled_model", inputs, values))


def _pinned_column(column: InputColumn, inputs: Any) -> dict[str, Any]:
    """What the runner needs to rebuild ``column`` as the model was fitted on it: a pandas
    'category' column keeps its categories, in order (their codes are what LightGBM and
    XGBoost split on, and they refuse other categories)."""
    pinned = column.model_dump(include={"name", "tensor_name", "kind", "source_dtype"})
    series = inputs[column.name] if isinstance(inputs, pd.DataFrame) else inputs
    if isinstance(series.dtype, pd.CategoricalDtype):
        pinned["categories"] = series.cat.categories.tolist()
    elif column.kind == "categorical":
        pinned["gap"] = _gap(series, text_model=not isinstance(inputs, pd.DataFrame))
    return pinned


def _gap(series: pd.Series, text_model: bool) -> str:
    """What the runner makes of a "" in a string tensor (how a gap travels): the gap the
    sample holds (None from an object column, NaN from a 'str' one or a CSV: scikit-learn's
    imputers take only NaN as missing), or a text where the sample has empty texts and no gap,
    or the model takes a text Series (an empty document; a gap would fail it)."""
    missing = series[series.isna()]
    if len(missing):
        return "none" if missing.iloc[0] is None else "nan"
    if text_model or bool((series == "").any()):
        return "text"
    return "none" if series.dtype == object else "nan"


@dataclass(frozen=True)
class PickledModel:
    """What the fallback writes, before it is written."""

    environment: dict[str, Any]
    signature: onnx.ModelProto


def pickled_model(model: Any, inputs: Any, schema: InputSchema, task: str) -> PickledModel:
    """The manifest and interface of ``model`` served from its pickle (``schema`` in FP64)."""
    environment = pinned_environment(model)
    outputs = _outputs(model, inputs, task)
    environment |= {
        "columns": [_pinned_column(column, inputs) for column in schema.columns],
        "text_series": takes_text_series(model),
        "outputs": [
            {"name": output.name, "method": output.method, "datatype": output.datatype}
            for output in outputs
        ],
    }
    return PickledModel(environment, _signature(schema, outputs))


def write_pickled_model(version_dir: Path, model_path: Path, environment: dict[str, Any]) -> None:
    """The pickle as given, the runner and the manifests, into ``version_dir``."""
    (version_dir / MODEL_FILENAME).write_bytes(model_path.read_bytes())
    (version_dir / "model.py").write_bytes(runner_source().read_bytes())
    (version_dir / ENVIRONMENT_FILENAME).write_text(
        json.dumps(environment, indent=2) + "\n", encoding="utf-8"
    )
    requirements = [f"{name}=={version}" for name, version in environment["packages"].items()]
    (version_dir / REQUIREMENTS_FILENAME).write_text(
        f"# python {environment['python']}\n" + "\n".join(requirements) + "\n", encoding="utf-8"
    )


def _written_runner(version_dir: Path) -> types.ModuleType:
    """The model.py written into ``version_dir``, imported from there."""
    spec = importlib.util.spec_from_file_location(
        "modelship_written_runner", version_dir / "model.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


Feeds = dict[str, np.ndarray[Any, Any]]


def served_runner(version_dir: Path) -> Callable[[Feeds], Feeds]:
    """The written runner's answers for per-column arrays, as Triton hands them over;
    PackagingError when it refuses to load."""
    runner = _written_runner(version_dir)
    try:
        model, environment = runner.load_checked(str(version_dir))
    except RuntimeError as error:
        raise PackagingError(str(error)) from error

    def predict(feeds: Feeds) -> Feeds:
        try:
            answers: Feeds = runner.predict(model, feeds, environment)
        except Exception as error:  # the model's own code: anything at all
            raise PackagingError(
                f"the pickled model fails on rows as Triton's python backend hands them over"
                f" ({type(error).__name__}: {one_line(error)}); it could not be served either"
            ) from error
        return answers

    return predict


def served_predictions(version_dir: Path, schema: InputSchema) -> Callable[[pd.DataFrame], Feeds]:
    """What the written runner answers for a frame, fed as Triton feeds it (one array per
    column, numbers in the served type, text as strings)."""
    run = served_runner(version_dir)
    return lambda frame: run(frame_to_feeds(frame, schema))


class PickledScorer:
    """`modelship score` in-process for a fallback package: the runner Triton would run."""

    def __init__(self, model_file: Path, metadata: ModelMetadata) -> None:
        from modelship_serving.errors import ScoringError

        try:
            self.predict = served_predictions(model_file.parent, metadata.input_schema)
        except PackagingError as error:
            raise ScoringError(str(error)) from error
        self.description = f"pickled model in-process ({model_file.name}, pinned fallback)"

    def score(self, frame: pd.DataFrame) -> dict[str, np.ndarray[Any, Any]]:
        return self.predict(frame)

    def close(self) -> None:
        pass
