"""A chunk's columns as the model's inputs: one [rows, 1] numpy array per column, straight
from Arrow (numbers cast once, text categories decoded once per distinct value).

The same arrays, and the same one-line SampleErrors, as
modelship_serving.packaging.schema.frame_to_feeds gives for the chunk as a pandas
DataFrame; the types Arrow paths do not cover (numbers held as text, dates, categories that
are not text) go through that function's per-column conversion.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelship_serving.errors import SampleError
from modelship_serving.metadata import InputColumn, InputSchema
from modelship_serving.scoring.arrow_numpy import integers_of
from modelship_serving.scoring.chunk import Chunk, is_text_type

_NUMPY_FOR_DATATYPE: dict[str, type[np.generic]] = {
    "FP32": np.float32,
    "FP64": np.float64,
    "INT64": np.int64,
    "INT32": np.int32,
}


def chunk_feeds(chunk: Chunk, schema: InputSchema) -> dict[str, np.ndarray[Any, Any]]:
    """onnxruntime feeds (tensor name -> [rows, 1] array) for the schema's columns."""
    names = set(chunk.batch.schema.names)
    missing = [column.name for column in schema.columns if column.name not in names]
    if missing:
        raise SampleError(f"the data lacks column(s) the model takes: {', '.join(missing)}")
    return {column.tensor_name: column_feed(chunk, column) for column in schema.columns}


def column_feed(chunk: Chunk, column: InputColumn) -> np.ndarray[Any, Any]:
    """The [rows, 1] array that carries ``chunk``'s column into the model, or a SampleError."""
    if column.kind == "categorical":
        texts = _text_feed(chunk.column(column.name))
        if texts is not None:
            return texts.reshape(-1, 1)
    else:
        values = chunk.numbers(column.name)
        if values is not None:
            rows = range(chunk.first_row, chunk.first_row + len(chunk))
            return numeric_feed(values, column, rows)
    from modelship_serving.packaging.schema import column_array

    return column_array(chunk.series(column.name), column)


def _text_feed(array: pa.Array) -> np.ndarray[Any, Any] | None:
    """Text as Python strings, a gap as ""; None for a column that is not text."""
    if not is_text_type(array.type):
        return None
    # Each distinct value decoded once (a Parquet file's dictionary, or one built here),
    # then taken per row; a gap as "" (the last).
    encoded = array if pa.types.is_dictionary(array.type) else pc.dictionary_encode(array)
    labels = np.asarray([*encoded.dictionary.to_pylist(), ""], dtype=object)
    taken: np.ndarray[Any, Any] = labels[integers_of(encoded.indices, len(labels) - 1)]
    return taken


def numeric_feed(
    values: np.ndarray[Any, Any], column: InputColumn, rows: Sequence[Any]
) -> np.ndarray[Any, Any]:
    """``values`` (float64, a gap as NaN) in the model's type, or a SampleError for a value
    that type cannot hold, naming its row (``rows``: the row number of each value)."""
    dtype = _NUMPY_FOR_DATATYPE[column.datatype]
    if not np.issubdtype(dtype, np.floating):
        _refuse_unrepresentable(values, rows, column, dtype)
        integers: np.ndarray[Any, Any] = values.astype(dtype).reshape(-1, 1)
        return integers
    with np.errstate(over="ignore"):  # a number beyond the type's range is refused below
        array: np.ndarray[Any, Any] = values.astype(dtype).reshape(-1, 1)
    if not _short_of_limits(array, dtype):
        _refuse_unrepresentable(values, rows, column, dtype)
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


def _refuse_unrepresentable(
    values: np.ndarray[Any, Any], rows: Sequence[Any], column: InputColumn, dtype: Any
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
            f"column {column.name!r} holds {values[position]!r} (row {rows[position]}), which"
            f" the model's {column.datatype} input cannot hold (|x| <= {limit:.3g});"
            " fix or drop the row"
        )
