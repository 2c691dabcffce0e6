"""Reading tables in chunks and writing them, by file extension: .csv, .parquet, .jsonl.

Readers stream: memory holds one chunk at a time whatever the file's size (for Parquet,
plus 1 MiB buffered pieces of the row group's columns, not the whole row group).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from modelship_serving.columns import csv_header
from modelship_serving.errors import ScoringError

if TYPE_CHECKING:  # pandas is imported where CSV and JSONL are read or written
    import pandas as pd

_READ_BUFFER_BYTES = 1 << 20
TableFormat = Literal["csv", "parquet", "jsonl"]
_SUFFIXES: dict[str, TableFormat] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def local_path(uri: str) -> Path:
    """The local path a file:// uri or plain path names."""
    if uri.startswith("file://"):
        return Path(uri[len("file://") :])
    if "://" in uri:
        raise ScoringError(
            f"{uri.split('://')[0]}:// is not supported here; give a path, file://, s3://, gs://,"
            " az:// or (input only) http(s)://"
        )
    return Path(uri)


def table_format(path: Path) -> TableFormat:
    """The format a path's extension names."""
    found = _SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise ScoringError(
            f"{path}: unknown table format {path.suffix!r}; use .csv, .parquet or .jsonl"
        )
    return found


_JSONL_LINES_FOR_COLUMNS = 1000
# UTF-8, with or without the byte order mark Windows tools write (pandas reads a CSV's).
JSONL_ENCODING = "utf-8-sig"


def input_columns(path: Path, fmt: TableFormat | None = None) -> list[str]:
    """Column names of a table without reading its rows (the keys of the first
    :data:`_JSONL_LINES_FOR_COLUMNS` lines for JSONL).

    ``fmt`` overrides the format the extension names.
    """
    fmt = fmt or table_format(path)
    with _read_errors(path):
        try:
            if fmt == "parquet":
                import pyarrow.parquet as pq

                return [str(name) for name in pq.ParquetFile(path).schema_arrow.names]
            if fmt == "csv":
                return csv_header(path)  # as written: pandas would rename a repeated name
            import pandas as pd

            # Keys of the first lines, not just the first: a line may leave a key out.
            lines = pd.read_json(
                path, lines=True, chunksize=_JSONL_LINES_FOR_COLUMNS, encoding=JSONL_ENCODING
            )
            first = next(iter(lines), None)
            return [] if first is None else [str(name) for name in first.columns]
        except FileNotFoundError as error:
            raise ScoringError(f"input {path} does not exist") from error


@contextmanager
def _read_errors(path: Path) -> Iterator[None]:
    """A failure to read ``path`` as one ScoringError line."""
    try:
        yield
    except ScoringError:
        raise
    except Exception as error:
        raise ScoringError(f"cannot read input {path}: {error}") from error


def read_chunks(
    path: Path,
    rows_per_chunk: int,
    dtypes: dict[str, Any] | None = None,
    fmt: TableFormat | None = None,
    text: tuple[str, ...] = (),
) -> Iterator[pd.DataFrame]:
    """The table as DataFrames of ``rows_per_chunk`` rows (the last may be shorter), for
    `modelship evaluate` and `compare` (a scoring job reads :func:`read_batches`).

    ``fmt`` overrides the format the extension names; ``dtypes`` applies to CSV and JSONL;
    the columns ``text`` are text in every format.
    """
    fmt = fmt or table_format(path)
    if fmt == "parquet":
        # One thread, and a block per column rather than columns copied into one block per
        # type: the frame is only read by column.
        for batch in _parquet_batches(path, rows_per_chunk, text, None, ()):
            yield batch.to_pandas(split_blocks=True, use_threads=False)
    else:
        yield from _pandas_chunks(path, rows_per_chunk, dtypes, fmt, text)


def read_batches(
    path: Path,
    rows_per_chunk: int,
    dtypes: dict[str, Any] | None = None,
    fmt: TableFormat | None = None,
    text: tuple[str, ...] = (),
    row_groups: tuple[int, ...] | None = None,
    categories: tuple[str, ...] = (),
    columns: tuple[str, ...] | None = None,
) -> Iterator[pa.RecordBatch]:
    """The table as Arrow record batches of ``rows_per_chunk`` rows, as a scoring job reads
    it: ``fmt``, ``dtypes`` and ``text`` as for :func:`read_chunks`, but for Parquet: only
    the ``columns`` (all when None), the ``text`` columns as they are (cast to text where
    they are written: without pandas, no integer goes through a float), the text
    ``categories`` as dictionaries, and only the ``row_groups`` given (a shard's share of the
    file). Parquet is read without pandas; CSV and JSONL are parsed by pandas, whose type
    inference their checks rely on."""
    fmt = fmt or table_format(path)
    if fmt == "parquet":
        yield from _parquet_batches(path, rows_per_chunk, (), row_groups, categories, columns)
    else:
        read_as_text = (*text, *(name for name, kind in (dtypes or {}).items() if kind is str))
        for frame in _pandas_chunks(path, rows_per_chunk, dtypes, fmt, text):
            if frame.empty:  # a CSV of only a header: no chunk, as Parquet's reader gives
                continue
            batch = _frame_to_batch(frame)
            if columns is not None:  # a JSONL chunk whose lines all lack a key
                batch = _with_absent_columns(batch, columns, read_as_text)
            yield batch


def _parquet_batches(
    path: Path,
    rows_per_chunk: int,
    text: tuple[str, ...],
    row_groups: tuple[int, ...] | None,
    categories: tuple[str, ...],
    columns: tuple[str, ...] | None = None,
) -> Iterator[pa.RecordBatch]:
    import pyarrow.parquet as pq

    with _read_errors(path):
        # Column chunks read in buffered pieces rather than whole: memory then follows
        # the chunk, not the row group (60 MiB less on a 1M-row group, as fast).
        # Text categories read as dictionaries: each distinct value is decoded, converted
        # for the model and counted for drift once per chunk rather than once per row
        # (reading the scoring benchmark's table took 2.4 times as long without).
        schema = pq.read_schema(path)
        dictionary = [
            name
            for name in categories
            if name not in text
            and (position := schema.get_field_index(name)) >= 0
            and schema.field(position).type in (pa.string(), pa.large_string())
        ]
        source = pq.ParquetFile(path, buffer_size=_READ_BUFFER_BYTES, read_dictionary=dictionary)
        groups = None if row_groups is None else list(row_groups)
        batches = source.iter_batches(
            batch_size=rows_per_chunk,
            row_groups=groups,
            columns=None if columns is None else list(columns),
            use_threads=False,
        )
        for batch in batches:
            yield _with_text_columns(batch, text)


def _pandas_chunks(
    path: Path,
    rows_per_chunk: int,
    dtypes: dict[str, Any] | None,
    fmt: TableFormat,
    text: tuple[str, ...],
) -> Iterator[pd.DataFrame]:
    import pandas as pd

    dtypes = {**(dtypes or {}), **dict.fromkeys(text, str)}
    with _read_errors(path):
        if fmt == "csv":
            yield from pd.read_csv(path, chunksize=rows_per_chunk, dtype=dtypes)
        else:
            yield from pd.read_json(
                path, lines=True, chunksize=rows_per_chunk, dtype=dtypes, encoding=JSONL_ENCODING
            )


def _frame_to_batch(frame: pd.DataFrame) -> pa.RecordBatch:
    """``frame`` as Arrow; a column of mixed Python values (a JSON number next to text) as
    text, which the checks then read as pandas would have."""
    try:
        return pa.RecordBatch.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        columns = {}
        for name in frame.columns:
            try:
                columns[str(name)] = pa.array(frame[name], from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                values = frame[name].astype(object)
                texts = [
                    None if value is None or value != value else str(value) for value in values
                ]
                columns[str(name)] = pa.array(texts, pa.string())
        return pa.RecordBatch.from_pydict(columns)


def _with_absent_columns(
    batch: pa.RecordBatch, names: tuple[str, ...], text: tuple[str, ...]
) -> pa.RecordBatch:
    """``batch`` with each of the columns ``names`` it lacks as gaps (text for the ``text``
    columns, numbers otherwise): a JSONL line may leave a key out, and every line of a
    chunk may (the job checked the file has the column)."""
    for name in names:
        if batch.schema.get_field_index(name) < 0:
            kind = pa.large_string() if name in text else pa.float64()
            batch = batch.append_column(name, pa.nulls(batch.num_rows, kind))
    return batch


def _with_text_columns(batch: pa.RecordBatch, names: tuple[str, ...]) -> pa.RecordBatch:
    """``batch`` with the columns ``names`` as text, as CSV and JSONL are read with
    ``dtype=str`` (an integer column with a gap would otherwise become floats)."""
    for name in names:
        position = batch.schema.get_field_index(name)
        if position >= 0 and not pa.types.is_large_string(batch.schema.field(position).type):
            column = batch.column(position).cast(pa.large_string())
            batch = batch.set_column(position, pa.field(name, pa.large_string()), column)
    return batch


class TableWriter:
    """Appends tables to one file of the given format, through one open writer.

    ``dictionary_columns``: the Parquet columns worth a dictionary (few distinct values);
    elsewhere one would be built and thrown away for every page.
    """

    def __init__(
        self,
        path: Path,
        fmt: TableFormat,
        dictionary_columns: tuple[str, ...] = (),
    ) -> None:
        self.path = path
        self.format = fmt
        self.dictionary_columns = list(dictionary_columns)
        self._parquet_writer: Any = None
        self._header_written = False

    def _write_frame(self, frame: pd.DataFrame) -> None:
        """Append ``frame`` as CSV or JSON Lines (pandas' formatting of both)."""
        if self.format == "csv":
            frame.to_csv(self.path, mode="a", header=not self._header_written, index=False)
        else:
            with self.path.open("a", encoding="utf-8") as stream:
                text = frame.to_json(orient="records", lines=True)
                stream.write(text if text.endswith("\n") or not text else text + "\n")
        self._header_written = True

    def write_arrow(self, table: Any) -> None:
        """Append an Arrow table (without pandas, when this writes Parquet)."""
        if self.format != "parquet":
            self._write_frame(table.to_pandas())
            return
        import pyarrow.parquet as pq

        if self._parquet_writer is None:
            names = set(table.schema.names)
            dictionary = [name for name in self.dictionary_columns if name in names]
            self._parquet_writer = pq.ParquetWriter(
                self.path,
                table.schema,
                use_dictionary=dictionary,
            )
        self._parquet_writer.write_table(table)
        self._header_written = True

    def close(self) -> None:
        if self._parquet_writer is not None:
            self._parquet_writer.close()
        elif self.format == "parquet":
            # No rows at all (a dataset of empty files): still a Parquet file, of no columns.
            import pyarrow.parquet as pq

            pq.write_table(pa.table({}), self.path)
        elif not self.path.exists():
            self.path.touch()  # an empty input still gives an (empty) output
