"""A chunk of a scoring job's input: Arrow columns, numbered by their rows in the table.

The job's stages (drift counting, conversion for the model, the output rows) read a chunk's
columns straight from Arrow, without pandas (0.15 s of import and a conversion per chunk);
a scorer that takes a pandas DataFrame (Triton's client, a pickled model) gets one from
:meth:`Chunk.to_pandas`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from modelship_serving.scoring.arrow_numpy import numbers_of

if TYPE_CHECKING:
    import pandas as pd


def is_number_type(kind: pa.DataType) -> bool:
    """Whether Arrow holds ``kind`` as plain numbers: integers, floats or booleans."""
    return bool(
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
    )


def is_text_type(kind: pa.DataType) -> bool:
    """Whether ``kind`` is text, or a dictionary of text (a Parquet file's categories)."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


@dataclass
class Chunk:
    """Rows ``first_row`` on of a table (a file's, for a dataset's piece)."""

    batch: pa.RecordBatch
    first_row: int = 0
    _numbers: dict[str, np.ndarray[Any, Any]] = field(default_factory=dict, repr=False, init=False)

    def __len__(self) -> int:
        return int(self.batch.num_rows)

    @property
    def row_numbers(self) -> np.ndarray[Any, Any]:
        return np.arange(self.first_row, self.first_row + len(self), dtype=np.int64)

    def column(self, name: str) -> pa.Array:
        return self.batch.column(name)

    def numbers(self, name: str) -> np.ndarray[Any, Any] | None:
        """Column ``name`` as float64, a gap as NaN, when Arrow holds it as numbers (None
        otherwise). Kept: drift counting and the model's conversion both read it."""
        if name not in self._numbers:
            column = self.column(name)
            if not is_number_type(column.type):
                return None
            self._numbers[name] = numbers_of(column)
        return self._numbers[name]

    def to_pandas(self) -> pd.DataFrame:
        """The rows as a DataFrame indexed by row number (for scorers that take one)."""
        import pandas as pd

        frame = self.batch.to_pandas(split_blocks=True, use_threads=False)
        frame.index = pd.RangeIndex(self.first_row, self.first_row + len(self))
        return frame

    def series(self, name: str) -> pd.Series:
        """Column ``name`` as a pandas Series indexed by row number (for the rare types the
        Arrow paths leave to pandas)."""
        import pandas as pd

        # Through the batch: its pandas metadata, where pandas wrote the table, restores
        # the column's pandas type (Int64 rather than float64), as to_pandas() does.
        series = self.batch.select([name]).to_pandas().iloc[:, 0]
        series.index = pd.RangeIndex(self.first_row, self.first_row + len(self))
        return series
