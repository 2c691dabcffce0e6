"""Arrow arrays to numpy and back through their buffers.

pyarrow's own conversions (``pa.array``, ``pa.scalar``, ``Array.to_numpy``) import pandas
on their first use, to look for pandas types: 0.15 s of a scoring run's start-up that the
job's numbers and text do not need. Here the same conversions for the types the job moves
(numbers, booleans and text), with pandas' semantics where it wrote them before (a float
NaN is a gap in Arrow).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def _valid_bits(valid: np.ndarray[Any, Any]) -> pa.Buffer:
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


def array_of(values: np.ndarray[Any, Any]) -> pa.Array:
    """A one-dimensional numpy array as Arrow: numbers and booleans (a float NaN as a gap),
    text as large_string (None and NaN as gaps); other objects through ``pa.array``."""
    if values.dtype == np.object_:
        texts = _texts_or_none(values)
        if texts is not None:
            return texts
        return pa.array(values, from_pandas=True)  # mixed objects: pyarrow's inference
    if values.dtype == np.bool_:
        bits = _valid_bits(values)
        return pa.Array.from_buffers(pa.bool_(), len(values), [None, bits])
    values = np.ascontiguousarray(values)
    validity = None
    if values.dtype.kind == "f":
        gaps = np.isnan(values)
        if gaps.any():
            validity = _valid_bits(~gaps)
    kind = pa.from_numpy_dtype(values.dtype)
    return pa.Array.from_buffers(kind, len(values), [validity, pa.py_buffer(values)])


def _texts_or_none(values: np.ndarray[Any, Any]) -> pa.Array | None:
    """An object array of str (None or NaN for a gap) as large_string; None when it holds
    anything else."""
    encoded: list[bytes] = []
    valid = np.ones(len(values), dtype=bool)
    for position, value in enumerate(values):
        if isinstance(value, str):
            encoded.append(value.encode())
        elif value is None or (isinstance(value, float) and value != value):
            encoded.append(b"")
            valid[position] = False
        else:
            return None
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum([len(text) for text in encoded], out=offsets[1:])
    validity = None if valid.all() else _valid_bits(valid)
    buffers = [validity, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.large_string(), len(values), buffers)


def text_scalar(value: str) -> pa.Scalar:
    """``value`` as an Arrow large_string scalar."""
    texts = _texts_or_none(np.asarray([value], dtype=object))
    assert texts is not None
    return texts[0]


def _filled(array: pa.Array, value: float | int, dtype: Any) -> pa.Array:
    """``array`` with its gaps as ``value`` (``dtype``: its type in numpy)."""
    if not array.null_count:
        return array
    one = np.asarray([value], dtype=dtype)
    filler = pa.Array.from_buffers(array.type, 1, [None, pa.py_buffer(one)])[0]
    return pc.fill_null(array, filler)


def numbers_of(array: pa.Array) -> np.ndarray[Any, Any]:
    """A numeric or boolean Arrow array as float64, a gap as NaN."""
    # Unsafe: an integer beyond 2**53 rounds, as it does in pandas' float64.
    floats = pc.cast(array, pa.float64(), safe=False)
    return _values(_filled(floats, np.nan, np.float64), np.float64)


def integers_of(array: pa.Array, gap: int) -> np.ndarray[Any, Any]:
    """An integer Arrow array (a dictionary's codes) as int64, a gap as ``gap``."""
    return _values(_filled(pc.cast(array, pa.int64()), gap, np.int64), np.int64)


def _values(array: pa.Array, dtype: Any) -> np.ndarray[Any, Any]:
    """A fixed-width Arrow array without gaps, as a numpy view of its data."""
    data = np.frombuffer(array.buffers()[1], dtype=dtype)
    return data[array.offset : array.offset + len(array)]
