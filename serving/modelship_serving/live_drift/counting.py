"""Counting sampled requests (traced or mirrored) into the reference profile's bins, as
`score` counts a batch.

A categorical column's missing value travels as "" (`packaging.schema.column_array`
sends it so), and is counted as missing, as the reference profile counted it."""

from __future__ import annotations

import pandas as pd

from modelship_serving.drift import BatchCounts
from modelship_serving.live_drift.traces import TracedRequest
from modelship_serving.metadata import ModelMetadata


def count_requests(
    requests: list[TracedRequest], metadata: ModelMetadata
) -> tuple[BatchCounts, int]:
    """Bin counts of the rows of every readable request that carries all the model's inputs,
    and how many requests could not be counted."""
    counts = BatchCounts.empty(metadata.reference_profile)
    columns = metadata.input_schema.columns
    rows: dict[str, list[float | str | None]] = {column.name: [] for column in columns}
    skipped = 0
    for request in requests:
        values = [request.inputs.get(column.tensor_name) for column in columns]
        lengths = {len(column_values) for column_values in values if column_values is not None}
        if request.unreadable or any(v is None for v in values) or len(lengths) != 1:
            skipped += 1
            continue
        for column, column_values in zip(columns, values, strict=True):
            assert column_values is not None
            if column.kind == "categorical":
                rows[column.name].extend(None if value == "" else value for value in column_values)
            else:
                rows[column.name].extend(column_values)
    if any(rows.values()):
        counts.add_frame(pd.DataFrame(rows), metadata.reference_profile)
    return counts, skipped
