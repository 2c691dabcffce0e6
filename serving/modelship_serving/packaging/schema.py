"""Deciding the model's input schema: which columns it takes, in which order, as which types."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelship_serving.errors import SampleError, UnsupportedModelError
from modelship_serving.metadata import InputColumn, InputSchema, TritonDatatype

if TYPE_CHECKING:  # onnx is imported where a schema is read from a model: scoring never does
    import onnx

_TENSOR_NAME_PATTERN = re.compile(r"[^0-9A-Za-z_]")


# The outputs of every package (packaging/outputs.py) and the values modelship adds to a
# graph ("modelship_tie_max", "probabilities_unclipped"): an input column of such a name
# gets another tensor name, else the graph would name two values alike.
RESERVED_TENSOR_NAMES = frozenset({"label", "probabilities", "scores", "prediction"})
_RESERVED_PREFIXES = ("modelship_", "probabilities_")


def _onnx_input_types() -> dict[int, tuple[TritonDatatype, str]]:
    """ONNX element types a tabular column can arrive as, and how the column is treated."""
    import onnx

    return {
        onnx.TensorProto.FLOAT: ("FP32", "numeric"),
        onnx.TensorProto.DOUBLE: ("FP64", "numeric"),
        onnx.TensorProto.INT64: ("INT64", "numeric"),
        onnx.TensorProto.INT32: ("INT32", "numeric"),
        onnx.TensorProto.STRING: ("BYTES", "categorical"),
    }


def tensor_name_for(column: str, taken: set[str]) -> str:
    """A valid, unique tensor name for ``column``: the name itself when it is already valid."""
    name = _TENSOR_NAME_PATTERN.sub("_", column) or "column"
    if name[0].isdigit() or name in RESERVED_TENSOR_NAMES or name.startswith(_RESERVED_PREFIXES):
        name = f"c_{name}"
    candidate, suffix = name, 1
    while candidate in taken:
        suffix += 1
        candidate = f"{name}_{suffix}"
    taken.add(candidate)
    return candidate


def _is_numeric(series: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(series.dtype)) or bool(
        pd.api.types.is_bool_dtype(series.dtype)
    )


def sklearn_input_columns(model: Any, sample: pd.DataFrame) -> list[str]:
    """The columns a fitted scikit-learn model takes, checked against the sample."""
    names = getattr(model, "feature_names_in_", None)
    if names is None and type(model).__module__.startswith("catboost"):
        names = model.feature_names_  # CatBoost's own name for it
    if names is not None:
        columns = [str(name) for name in names]
        if type(model).__module__.startswith("lightgbm"):
            # LightGBM keeps "sepal length" as "sepal_length"; predict takes the originals.
            originals = {re.sub(r"\s", "_", str(name)): str(name) for name in sample.columns}
            columns = [originals.get(name, name) for name in columns]
        missing = [name for name in columns if name not in sample.columns]
        if missing:
            raise SampleError(
                f"the sample lacks column(s) the model was trained on: {', '.join(missing)};"
                f" the model takes: {', '.join(columns)}"
            )
        return columns
    expected = getattr(model, "n_features_in_", None)
    columns = [str(name) for name in sample.columns]
    if expected is not None and expected != len(columns):
        raise SampleError(
            f"the model was trained on {expected} unnamed columns but the sample has"
            f" {len(columns)} ({', '.join(columns)}); give a sample with exactly the training"
            " columns in training order, or train on a pandas DataFrame so column names are known"
        )
    return columns


def refuse_nested(series: pd.Series, name: str) -> None:
    """SampleError for a column the model takes that holds lists or records (a Parquet
    list or struct column) where a model input holds one number or text per row."""
    if series.dtype != object:
        return
    nested = series.map(lambda value: isinstance(value, list | tuple | dict | np.ndarray))
    if nested.any():
        row = nested.idxmax()
        kind = "records" if isinstance(series[row], dict) else "lists"
        raise SampleError(
            f"sample column {name!r} holds {kind} ({str(series[row])[:40]} in row {row}), but a"
            " model input takes one number or text per row; give the flat column the model was"
            " trained on (flatten a list or struct into one column per item or field)"
        )


def schema_from_sample(sample: pd.DataFrame, columns: list[str]) -> InputSchema:
    """Schema of a scikit-learn model's input: numeric columns as FP32, the rest as strings."""
    taken: set[str] = set()
    result: list[InputColumn] = []
    for name in columns:
        series = sample[name]
        refuse_nested(series, name)
        numeric = _is_numeric(series)
        result.append(
            InputColumn(
                name=name,
                kind="numeric" if numeric else "categorical",
                source_dtype=str(series.dtype),
                tensor_name=tensor_name_for(name, taken),
                datatype="FP32" if numeric else "BYTES",
            )
        )
    return InputSchema(columns=result)


def schema_from_onnx(model: onnx.ModelProto, sample: pd.DataFrame) -> InputSchema:
    """Schema of an ONNX model that takes one [batch, 1] input per column, named after it."""
    result: list[InputColumn] = []
    initializers = {initializer.name for initializer in model.graph.initializer}
    for graph_input in model.graph.input:
        if graph_input.name in initializers:
            continue
        tensor_type = graph_input.type.tensor_type
        known = _onnx_input_types().get(tensor_type.elem_type)
        dims = tensor_type.shape.dim
        if known is None or len(dims) != 2 or dims[1].dim_value not in (0, 1):
            raise UnsupportedModelError(
                f"ONNX input {graph_input.name!r} is not a [batch, 1] numeric or string tensor;"
                " modelship packages tabular ONNX models that take one input per column"
            )
        if graph_input.name not in sample.columns:
            raise SampleError(
                f"the sample lacks column {graph_input.name!r}, an input of the ONNX model"
            )
        refuse_nested(sample[graph_input.name], graph_input.name)
        datatype, kind = known
        result.append(
            InputColumn(
                name=graph_input.name,
                kind="numeric" if kind == "numeric" else "categorical",
                source_dtype=str(sample[graph_input.name].dtype),
                tensor_name=graph_input.name,
                datatype=datatype,
            )
        )
    return InputSchema(columns=result)


_NUMPY_FOR_DATATYPE: dict[str, type[np.generic]] = {
    "FP32": np.float32,
    "FP64": np.float64,
    "INT64": np.int64,
    "INT32": np.int32,
}


def column_array(series: pd.Series, column: InputColumn) -> np.ndarray[Any, Any]:
    """The [rows, 1] array that carries ``series`` into the model, or a SampleError."""
    if column.kind == "categorical":
        if isinstance(series.dtype, pd.CategoricalDtype):
            # Each category converted once, then taken per row; a gap (code -1) as "".
            texts = column_array(pd.Series(series.cat.categories), column)[:, 0]
            labels = np.asarray([*texts, ""], dtype=object)
            taken: np.ndarray[Any, Any] = labels[series.cat.codes.to_numpy()]
            return taken.reshape(-1, 1)
        if isinstance(series.dtype, pd.StringDtype):
            # Text already: straight to Python strings, a gap as "", without a per-value cast.
            return np.asarray(series.to_numpy(dtype=object, na_value="")).reshape(-1, 1)
        values = series.astype(object).where(series.notna(), "")
        return np.asarray(values.astype(str).to_numpy(dtype=object)).reshape(-1, 1)
    if not _is_numeric(series):
        converted = pd.to_numeric(series, errors="coerce")
        bad = series[converted.isna() & series.notna()]
        if not bad.empty:
            raise SampleError(
                f"column {column.name!r} must be numeric but holds {bad.iloc[0]!r}"
                f" (row {bad.index[0]}); fix the data or the column's type"
            )
        series = converted
    dtype = _NUMPY_FOR_DATATYPE[column.datatype]
    values = series.to_numpy(dtype=np.float64)
    if not np.issubdtype(dtype, np.floating):
        refuse_unrepresentable(values, series.index, column, dtype)
        integers: np.ndarray[Any, Any] = values.astype(dtype).reshape(-1, 1)
        return integers
    with np.errstate(over="ignore"):  # a number beyond the type's range is refused below
        array: np.ndarray[Any, Any] = values.astype(dtype).reshape(-1, 1)
    if not _short_of_limits(array, dtype):
        refuse_unrepresentable(values, series.index, column, dtype)
    return array


def _short_of_limits(array: np.ndarray[Any, Any], dtype: Any) -> bool:
    """Whether every value of the cast ``array`` but NaN (missing) is finite and short of the
    floating ``dtype``'s largest: what the type cannot hold became infinite in the cast (or,
    rounded, its largest value). Two passes of the smaller type, where checking every value
    before the cast took as long as the conversion itself."""
    if not len(array):
        return True
    limit = np.finfo(dtype).max
    return bool(
        -limit < np.fmin.reduce(array, axis=None) and np.fmax.reduce(array, axis=None) < limit
    )


def refuse_unrepresentable(
    values: np.ndarray[Any, Any], index: pd.Index, column: InputColumn, dtype: Any
) -> None:
    """SampleError for the first value the model's input type cannot hold: an infinity, or a
    number beyond its range (which a cast would turn into an infinity or a wrapped integer),
    since the model's answer to it would mean nothing. Missing values (NaN) pass."""
    limit = float(np.finfo(dtype).max if np.issubdtype(dtype, np.floating) else np.iinfo(dtype).max)
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(np.isinf(values) | (np.abs(values) > limit))
    if len(bad):
        position = int(bad[0])
        raise SampleError(
            f"column {column.name!r} holds {values[position]!r} (row {index[position]}), which"
            f" the model's {column.datatype} input cannot hold (|x| <= {limit:.3g});"
            " fix or drop the row"
        )


def frame_to_feeds(frame: pd.DataFrame, schema: InputSchema) -> dict[str, np.ndarray[Any, Any]]:
    """onnxruntime feeds (tensor name -> [rows, 1] array) for the schema's columns of ``frame``."""
    missing = [column.name for column in schema.columns if column.name not in frame.columns]
    if missing:
        raise SampleError(f"the data lacks column(s) the model takes: {', '.join(missing)}")
    return {
        column.tensor_name: column_array(frame[column.name], column) for column in schema.columns
    }
