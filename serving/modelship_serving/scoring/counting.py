"""A chunk's drift counts, from its Arrow columns: numbers as float64 arrays, text categories
counted once per distinct value (a Parquet file's dictionary, or one built for the chunk).

The same counts as modelship_serving.drift.BatchCounts.add_frame gives for the chunk as a
pandas DataFrame; columns of other types (numbers held as text, categories that are not
text) are counted by that function's pandas rules.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelship_serving.drift import BatchCounts, series_categories, series_numbers
from modelship_serving.profile import ReferenceProfile
from modelship_serving.scoring.arrow_numpy import integers_of
from modelship_serving.scoring.chunk import Chunk, is_text_type


def chunk_counts(chunk: Chunk, reference: ReferenceProfile) -> BatchCounts:
    """The drift counts of ``chunk`` against ``reference``."""
    counts = BatchCounts.empty(reference)
    counts.rows = len(chunk)
    for name in counts.numeric:
        values = chunk.numbers(name)
        if values is None:
            values = series_numbers(chunk.series(name))
        counts.add_numbers(name, values, reference)
    for name in counts.categorical:
        column = chunk.column(name)
        if is_text_type(column.type):
            counts.add_categories(name, _text_counts(column), column.null_count)
        else:
            counts.add_categories(name, *series_categories(chunk.series(name)))
    return counts


def _text_counts(column: pa.Array) -> list[tuple[str, int]]:
    """Each distinct text of ``column`` (text, or a dictionary of text) and its rows."""
    encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
    gap = len(encoded.dictionary)
    rows = np.bincount(integers_of(encoded.indices, gap), minlength=gap + 1)[:gap]
    texts: list[str] = encoded.dictionary.to_pylist()
    return [(text, int(count)) for text, count in zip(texts, rows, strict=True) if count]
