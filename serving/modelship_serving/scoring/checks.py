"""The model a job scores with, and the checks of its input against the model's schema,
made before anything is scored or written."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa

from modelship_serving.columns import header_problem
from modelship_serving.errors import SampleError, SchemaMismatchError, ScoringError
from modelship_serving.metadata import ModelMetadata, read_model_metadata
from modelship_serving.scoring.arrow_numpy import text_scalar
from modelship_serving.scoring.chunk import Chunk
from modelship_serving.scoring.feeds import chunk_feeds
from modelship_serving.scoring.formats import (
    TableFormat,
    input_columns,
    read_batches,
    table_format,
)
from modelship_serving.scoring.output import is_output_column, key_texts

FIRST_ROWS_CHECKED = 1000
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"  # a gap, in a partition folder's name


def load_model(model_repo: Path, model: str) -> tuple[ModelMetadata, Path]:
    """The metadata and ONNX file of ``model`` in a repository written by `modelship package`."""
    model_dir = model_repo / model
    try:
        metadata = read_model_metadata(model_dir)
    except FileNotFoundError as error:
        packaged = sorted(
            entry.name for entry in model_repo.glob("*") if (entry / "modelship.json").is_file()
        )
        known = f" (it holds: {', '.join(packaged)})" if packaged else ""
        raise ScoringError(
            f"{model_dir} has no modelship.json: give a repository written by `modelship package`"
            f" and the model's name{known}"
        ) from error
    model_file = model_dir / metadata.model_file
    if not model_file.is_file():
        raise ScoringError(f"{model_file} is missing from the model repository")
    return metadata, model_file


def check_columns(
    columns: list[str], metadata: ModelMetadata, key: str | None, shown: str = "the input"
) -> None:
    """SchemaMismatchError unless every model column (and the key) is among ``columns``
    of ``shown`` (a dataset's file is named: a dataset has many)."""
    if key is not None and is_output_column(key, metadata):
        raise SchemaMismatchError(
            f"--key {key!r} has the name of an output column (row, or the model's outputs:"
            f" {', '.join(spec.name for spec in metadata.outputs)}), which would replace it;"
            " rename the column in the input. Nothing was scored."
        )
    missing = [name for name in metadata.input_schema.column_names() if name not in columns]
    if key is not None and key not in columns:
        missing.append(f"{key} (the --key column)")
    if missing:
        raise SchemaMismatchError(
            f"{shown} lacks column(s) {', '.join(missing)}; model {metadata.name} takes"
            f" {', '.join(metadata.input_schema.column_names())}. Nothing was scored."
        )


def check_names(columns: list[str], shown: str, table: TableFormat) -> None:
    """ScoringError when a column name appears more than once (Parquet allows it, pandas
    renames it in a CSV), or a CSV's header is one name holding another separator."""
    problem = header_problem(columns, "," if table == "csv" else None)
    if problem is not None:
        raise ScoringError(f"input {shown}: {problem}. Nothing was scored.")


@contextmanager
def types_checked(where: str) -> Iterator[None]:
    """Turns the SampleError of converting rows for the model (a numeric column holding
    text, a number the model's type cannot hold) into a SchemaMismatchError at ``where``."""
    try:
        yield
    except SampleError as error:
        raise SchemaMismatchError(f"{where}: {error}") from error


def check_types(chunk: Chunk, metadata: ModelMetadata, where: str) -> None:
    """SchemaMismatchError when a numeric column holds text."""
    with types_checked(where):
        chunk_feeds(chunk, metadata.input_schema)


def read_dtypes(metadata: ModelMetadata) -> dict[str, Any]:
    """Column types to read the input with."""
    # Categories stay text even when they look like numbers (zip codes, "01").
    return {c.name: str for c in metadata.input_schema.columns if c.kind == "categorical"}


def text_columns(key: str | None) -> tuple[str, ...]:
    """Columns read as text in every format: the key. An identifier is carried verbatim
    ("007", ids beyond 2**53), and its type cannot change from one chunk to the next (ints,
    then a gap, then a text id), which would make the chunks unfit to assemble."""
    return (key,) if key is not None else ()


def read_input(
    path: Path,
    rows_per_chunk: int,
    metadata: ModelMetadata,
    key: str | None,
    table: TableFormat | None = None,
    row_groups: tuple[int, ...] | None = None,
    partition: Mapping[str, str] | None = None,
) -> Iterator[pa.RecordBatch]:
    """The chunks of an input table as a job scores them: the model's columns and the key;
    the model's categories as text (from Parquet, as dictionaries of text) and the key as
    text (from Parquet, as written: the output casts it). A model column the file lacks
    but its hive ``partition`` names (``city=paris/``) is the folder's value, as text."""
    dtypes = read_dtypes(metadata)
    # Only what the job uses: a table's other columns are not even decoded.
    used = tuple(dict.fromkeys([*metadata.input_schema.column_names(), *text_columns(key)]))
    from_folders = folder_columns(input_columns(path, table), used, partition) if partition else {}
    from_file = tuple(name for name in used if name not in from_folders)
    batches = read_batches(
        path, rows_per_chunk, dtypes, table, text_columns(key), row_groups, tuple(dtypes), from_file
    )
    if not from_folders:
        return batches
    return (_with_folder_columns(batch, from_folders) for batch in batches)


def folder_columns(
    columns: list[str], used: tuple[str, ...], partition: Mapping[str, str] | None
) -> dict[str, str]:
    """The hive partition keys that stand for columns the job uses and the file lacks."""
    return {
        name: value
        for name, value in (partition or {}).items()
        if name in used and name not in columns
    }


def _with_folder_columns(batch: pa.RecordBatch, columns: Mapping[str, str]) -> pa.RecordBatch:
    for name, value in columns.items():
        if value == HIVE_NULL:
            column = pa.nulls(batch.num_rows, pa.large_string())
        else:
            column = pa.repeat(text_scalar(value), batch.num_rows)
        batch = batch.append_column(name, column)
    return batch


def check_not_empty(path: Path, named: str, outcome: str) -> None:
    """ScoringError for a 0-byte file, which readers refuse with their own puzzling words
    (pandas: "No columns to parse from file")."""
    if path.stat().st_size == 0:
        raise ScoringError(f"{named} is an empty file (0 bytes); {outcome}")


def check_input(
    path: Path,
    shown: str,
    table: TableFormat | None,
    metadata: ModelMetadata,
    key: str | None,
    rows_per_chunk: int,
    partition: Mapping[str, str] | None = None,
    rows_required: bool = True,
) -> None:
    """ScoringError unless the table at ``path`` (``shown`` in messages) has rows (unless
    not ``rows_required``: a dataset's file, which Spark writes empty for an empty
    partition), the model's columns (and the key column; in the file, or in the hive
    ``partition`` of its folders) and, in its first rows, the model's types."""
    no_rows = ScoringError(f"input {shown} has no rows; nothing was scored")
    check_not_empty(path, f"input {shown}", "nothing was scored")
    columns = input_columns(path, table)
    if not columns:  # an empty JSONL file
        raise no_rows
    check_names(columns, shown, table or table_format(path))
    check_columns([*columns, *(partition or {})], metadata, key, f"input {shown}")
    first_rows = min(rows_per_chunk, FIRST_ROWS_CHECKED)
    first_chunks = read_input(path, first_rows, metadata, key, table, partition=partition)
    first = next(iter(first_chunks), None)
    if first is None or first.num_rows == 0:
        if not rows_required:
            return
        raise no_rows
    check_types(Chunk(first), metadata, f"{shown} (first rows)")
    if key is not None:  # a key that cannot be text is refused before anything is scored
        try:
            key_texts(first.column(key), key)
        except ScoringError as error:
            raise ScoringError(f"{shown} (first rows): {error}. Nothing was scored.") from error
