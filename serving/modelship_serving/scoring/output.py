"""What a job writes: the rows of its output, and the files beside the output ``OUT``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelship_serving.metadata import ModelMetadata
from modelship_serving.scoring.formats import TableWriter

ROW_COLUMN = "row"
MANIFEST_SUFFIX = ".manifest.json"
DRIFT_SUFFIX = ".drift.json"


def partial_folder(name: str) -> str:
    """The hidden folder beside the output ``name`` where its committed chunks are kept."""
    return f".{name}.partial"


def manifest_path(output: Path) -> Path:
    """The manifest beside an output file."""
    return output.with_name(output.name + MANIFEST_SUFFIX)


def drift_path(output: Path) -> Path:
    """The drift report beside an output file."""
    return output.with_name(output.name + DRIFT_SUFFIX)


def work_directory(output: Path) -> Path:
    """The work directory beside a local output file."""
    return output.with_name(partial_folder(output.name))


def prediction_frame(
    outputs: dict[str, np.ndarray[Any, Any]],
    metadata: ModelMetadata,
    rows: np.ndarray[Any, Any],
    keys: pd.Series | None,
    key_column: str | None,
) -> pd.DataFrame:
    """The output rows of one chunk: row number, key, label/prediction, one column per score."""
    columns: dict[str, Any] = {ROW_COLUMN: rows}
    if keys is not None and key_column is not None:
        # Text whatever the chunk holds (all gaps included): one column type in every chunk.
        columns[key_column] = keys.astype("string").array
    for spec in metadata.outputs:
        values = outputs[spec.name].reshape(len(rows), -1)
        if values.dtype == np.object_:
            values = np.vectorize(
                lambda v: v.decode() if isinstance(v, bytes) else v, otypes=[object]
            )(values)
        if spec.role == "scores" and metadata.classes and values.shape[1] == len(metadata.classes):
            for index, label in enumerate(metadata.classes):
                columns[f"{spec.name}_{label}"] = values[:, index]
        elif values.shape[1] == 1:
            columns[spec.name] = values[:, 0]
        else:
            for index in range(values.shape[1]):
                columns[f"{spec.name}_{index}"] = values[:, index]
    return pd.DataFrame(columns)


def label_outputs(metadata: ModelMetadata) -> tuple[str, ...]:
    """The output columns that hold labels: few distinct values, where a Parquet dictionary
    pays (rows, keys and scores are mostly unique, where building one is wasted work)."""
    return tuple(spec.name for spec in metadata.outputs if spec.role == "label")


def write_chunk(predictions: pd.DataFrame, path: Path, metadata: ModelMetadata) -> None:
    """One chunk's output rows as Parquet at ``path``."""
    writer = TableWriter(path, "parquet", label_outputs(metadata))
    writer.write(predictions)
    writer.close()
