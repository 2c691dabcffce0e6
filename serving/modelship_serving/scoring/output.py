"""What a job writes: the rows of its output, and the files beside the output ``OUT``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelship_serving.errors import ScoringError
from modelship_serving.metadata import ModelMetadata
from modelship_serving.scoring.arrow_numpy import array_of, text_scalar
from modelship_serving.scoring.formats import TableFormat, TableWriter

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


def is_output_column(name: str, metadata: ModelMetadata) -> bool:
    """Whether ``name`` is (or may be) a column the job writes for each row: the row
    number, or one of the model's outputs (``label``, ``probabilities_<class>``)."""
    for spec in metadata.outputs:
        width = int(np.prod(spec.dims)) if all(size > 0 for size in spec.dims) else None
        classes = [str(label) for label in metadata.classes or ()]
        if spec.role == "scores" and classes and width == len(classes):
            columns = [f"{spec.name}_{label}" for label in classes]
        elif width == 1:
            columns = [spec.name]
        elif width is not None:
            columns = [f"{spec.name}_{index}" for index in range(width)]
        else:  # a width known only once scored: any name it may give
            columns = [spec.name]
            if name.startswith(f"{spec.name}_"):
                return True
        if name in columns:
            return True
    return name == ROW_COLUMN


def prediction_table(
    outputs: dict[str, np.ndarray[Any, Any]],
    metadata: ModelMetadata,
    rows: np.ndarray[Any, Any],
    keys: pa.Array | None,
    key_column: str | None,
    passthrough: dict[str, str] | None = None,
) -> pa.Table:
    """The output rows of one chunk as the Arrow table every writer takes: row number, key,
    the ``passthrough`` columns (a dataset's file and partition keys), label/prediction,
    one column per score. Text is large_string, and a NaN a gap, as pandas wrote them."""
    columns: dict[str, pa.Array] = {ROW_COLUMN: array_of(rows.astype(np.int64))}
    if keys is not None and key_column is not None:
        # Text whatever the chunk holds (all gaps included): one column type in every chunk.
        columns[key_column] = key_texts(keys, key_column, int(rows[0]) if len(rows) else 0)
    for name, value in (passthrough or {}).items():
        columns[name] = pa.repeat(text_scalar(value), len(rows))
    for spec in metadata.outputs:
        values = outputs[spec.name].reshape(len(rows), -1)
        if values.dtype == np.object_:
            values = np.vectorize(
                lambda v: v.decode() if isinstance(v, bytes) else v, otypes=[object]
            )(values)
        if spec.role == "scores" and metadata.classes and values.shape[1] == len(metadata.classes):
            for index, label in enumerate(metadata.classes):
                columns[f"{spec.name}_{label}"] = _column(values[:, index])
        elif values.shape[1] == 1:
            columns[spec.name] = _column(values[:, 0])
        else:
            for index in range(values.shape[1]):
                columns[f"{spec.name}_{index}"] = _column(values[:, index])
    return pa.table(columns)


def key_texts(keys: pa.Array, key_column: str, first_row: int = 0) -> pa.Array:
    """The --key column ``keys`` as text, or a ScoringError naming what to give instead
    (``first_row``: the row number of its first value)."""
    advice = "give a --key column of text, numbers, dates or times"
    try:
        return pc.cast(keys, pa.large_string())
    except pa.ArrowNotImplementedError as error:
        raise ScoringError(
            f"column {key_column!r} (--key) holds {keys.type}, which cannot be carried as"
            f" text; {advice}"
        ) from error
    except pa.ArrowInvalid as error:  # bytes that are not UTF-8
        row = first_row + _first_not_utf8(keys)
        raise ScoringError(
            f"column {key_column!r} (--key) holds bytes that are not UTF-8 text (row {row});"
            f" {advice}"
        ) from error


def _first_not_utf8(values: pa.Array) -> int:
    for position, value in enumerate(values.to_pylist()):
        try:
            if isinstance(value, bytes):
                value.decode()
        except UnicodeDecodeError:
            return position
    return 0


def _column(values: np.ndarray[Any, Any]) -> pa.Array:
    # As pandas wrote a DataFrame's column: a NaN is a gap, text is large_string.
    array = array_of(values)
    return pc.cast(array, pa.large_string()) if pa.types.is_string(array.type) else array


def label_outputs(metadata: ModelMetadata) -> tuple[str, ...]:
    """The output columns that hold labels: few distinct values, where a Parquet dictionary
    pays (rows, keys and scores are mostly unique, where building one is wasted work)."""
    return tuple(spec.name for spec in metadata.outputs if spec.role == "label")


def write_chunk(predictions: pa.Table, path: Path) -> None:
    """One chunk's output rows as an Arrow IPC file at ``path`` (see
    modelship_serving.scoring.partial), read back by :func:`read_chunk`."""
    import pyarrow.ipc

    with pyarrow.ipc.new_file(path, predictions.schema) as writer:
        writer.write_table(predictions)


def read_chunk(path: Path) -> pa.Table:
    """A committed chunk's output rows, written by :func:`write_chunk`."""
    import pyarrow.ipc

    with pa.memory_map(str(path)) as source:
        return pyarrow.ipc.open_file(source).read_all()


class StreamedOutput:
    """The output, written through one open writer as its chunks are committed, so that a
    job scored in one attempt publishes it without reading its chunks back. Only an
    attempt that commits every chunk itself, from the first, streams; a resumed one
    assembles the output from the committed chunks."""

    def __init__(self, path: Path, fmt: TableFormat, metadata: ModelMetadata) -> None:
        path.unlink(missing_ok=True)  # a crashed attempt's
        self.path = path
        self.rows = 0
        self.chunks = 0
        self.abandoned = False  # a chunk was resumed after all: assemble instead
        self._writer = TableWriter(path, fmt, label_outputs(metadata))

    def append(self, chunk_index: int, predictions: Any) -> None:
        """Append a committed chunk's rows (an Arrow table); chunks come in order."""
        if self.abandoned:
            return
        if chunk_index != self.chunks:
            raise ScoringError(f"internal error: chunk {chunk_index} streamed out of order")
        self._writer.write_arrow(predictions)
        self.rows += int(predictions.num_rows)
        self.chunks += 1

    def close(self) -> None:
        self._writer.close()

    def file(self, chunks: int) -> Path | None:
        """The streamed output, when it holds all ``chunks`` chunks of the job."""
        return None if self.abandoned or self.chunks != chunks else self.path
