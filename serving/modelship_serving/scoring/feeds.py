"""A chunk's columns as the model's inputs: one [rows, 1] numpy array per column, straight
from Arrow (numbers cast once, text categories decoded once per distinct value).

The same arrays, and the same one-line SampleErrors, as
modelship_serving.packaging.schema.frame_to_feeds gives for the chunk as a pandas
DataFrame; the types Arrow paths do not cover (numbers held as text, dates, categories that
are not text) go through that function's per-column conversion.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelship_serving.errors import SampleError
from modelship_serving.metadata import InputColumn, InputSchema
from modelship_serving.scoring.arrow_numpy import integers_of
from modelship_serving.scoring.chunk import Chunk, is_text_type

_NUMPY_FOR_DATATYPE: dict[str, Any] = {
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
    values: np.ndarray[Any, Any], column: InputColumn, rows: range
) -> np.ndarray[Any, Any]:
    """``values`` (float64, a gap as NaN) in the model's type, or the SampleError of
    packaging.schema.column_array for a value that type cannot hold, naming its row
    (``rows``: the row numbers of the values)."""
    dtype = _NUMPY_FOR_DATATYPE[column.datatype]
    with np.errstate(over="ignore", invalid="ignore"):  # what the type cannot hold: below
        array: np.ndarray[Any, Any] = values.astype(dtype).reshape(-1, 1)
    # Floats are checked once cast (what the type cannot hold became infinite or, rounded,
    # its largest value): two passes of the smaller type, where checking every value
    # before the cast took as long as the conversion. Integers before the cast, which
    # would wrap. NaN (a gap) passes both.
    if np.issubdtype(dtype, np.floating):
        checked, limit = array, float(np.finfo(dtype).max)
    else:
        checked, limit = values, float(np.iinfo(dtype).max)
    if len(checked) and not (
        -limit < np.fmin.reduce(checked, axis=None) and np.fmax.reduce(checked, axis=None) < limit
    ):
        import pandas as pd

        from modelship_serving.packaging.schema import refuse_unrepresentable

        refuse_unrepresentable(values, pd.RangeIndex(rows.start, rows.stop), column, dtype)
    return array
