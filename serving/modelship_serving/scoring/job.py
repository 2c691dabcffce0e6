"""One batch scoring job: input table -> predictions, atomic, resumable, with a manifest and drift.

Layout beside the output file ``OUT`` (e.g. ``scores.parquet``):

- ``.OUT.partial/``: work in progress. ``state.json`` identifies the job (input
  file size and mtime, model sha256, chunk size, key); ``chunk-NNNNNNNN.parquet``
  holds a scored chunk, written to a temporary name and renamed, so a chunk is
  either complete or absent; ``chunk-NNNNNNNN.counts.json`` its drift counts,
  written before the chunk. A rerun of the same job skips chunks already there
  and scores the rest: no row is lost or scored twice.
- ``OUT``: all chunks in input order, in the format OUT's extension names,
  renamed into place only when complete.
- ``OUT.drift.json``: drift of the whole input against the model's reference profile.
- ``OUT.manifest.json``: written last; its presence means the job finished.

Input and output may also be objects in storage (see modelship_serving.scoring.remote):
the input is downloaded into the work directory first, the output assembled there and
uploaded, then its drift report, then its manifest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from modelship_serving.drift import (
    DEFAULT_PSI_THRESHOLD,
    BatchCounts,
    batch_counts_from_json,
    drift_report,
)
from modelship_serving.errors import SampleError, SchemaMismatchError, ScoringError
from modelship_serving.fetch.uri import redact_uri
from modelship_serving.metadata import ModelMetadata, read_model_metadata
from modelship_serving.packaging.schema import frame_to_feeds
from modelship_serving.scoring import remote
from modelship_serving.scoring.formats import (
    TableWriter,
    input_columns,
    local_path,
    read_chunks,
    table_format,
)
from modelship_serving.scoring.remote import is_remote, object_name
from modelship_serving.scoring.scorers import InProcessScorer, Scorer, TritonScorer

logger = logging.getLogger(__name__)

ROW_COLUMN = "row"
DEFAULT_ROWS_PER_CHUNK = 50_000


class ScoreSettings(BaseModel):
    """What to score, with what, and where to write it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_repo: Path = Field(description="Model repository written by `modelship package`.")
    model: str = Field(description="Model name inside the repository.")
    input_uri: str = Field(
        description="Input table (.csv/.parquet/.jsonl): path, file://, s3://, gs:// or http(s)://."
    )
    output_uri: str = Field(
        description="Output table: path, file://, s3:// or gs://; its extension picks the format."
    )
    triton_url: str | None = Field(
        default=None, description="Triton gRPC address (host:port); absent: onnxruntime in-process."
    )
    rows_per_chunk: int = Field(
        default=DEFAULT_ROWS_PER_CHUNK,
        ge=1,
        description="Rows read, scored and committed at a time.",
    )
    rows_per_request: int = Field(default=64, ge=1, description="Rows per Triton request.")
    concurrency: int = Field(default=4, ge=1, description="Triton requests in flight.")
    key_column: str | None = Field(
        default=None, description="Input column carried into the output next to the row number."
    )
    work_dir: Path | None = Field(
        default=None,
        description="Where partial results live; default: beside a local output, or"
        " $TMPDIR/modelship-score/<hash of the job> for an s3/gs output. Put it on a volume"
        " that survives the pod to resume after a node loss.",
    )
    psi_threshold: float = Field(
        default=DEFAULT_PSI_THRESHOLD,
        gt=0,
        description="PSI above which a feature counts as drifted.",
    )


class ScoreManifest(BaseModel):
    """What a finished job did: written last, beside the output."""

    model_config = ConfigDict(extra="forbid")

    input: str = Field(description="The input table.")
    output: str = Field(description="The output table.")
    output_format: str = Field(description="csv, parquet or jsonl.")
    rows_in: int = Field(description="Rows read from the input.")
    rows_out: int = Field(description="Rows written to the output (equals rows_in).")
    model_name: str = Field(description="Model name.")
    model_version: str = Field(description="Model version.")
    model_sha256: str = Field(description="sha256 of the ONNX model file scored with.")
    scorer: str = Field(description="What scored: onnxruntime in-process or Triton at an address.")
    rows_per_chunk: int = Field(description="Rows per committed chunk.")
    chunks: int = Field(description="Chunks in the output.")
    chunks_resumed: int = Field(
        description="Chunks found complete from an earlier, interrupted run."
    )
    started_at: datetime = Field(description="When this run started (UTC).")
    finished_at: datetime = Field(description="When the output was complete (UTC).")
    drift_file: str = Field(description="The drift report written beside the output.")
    drifted_features: list[str] = Field(description="Features whose PSI exceeds the threshold.")


ProgressCallback = Callable[[dict[str, Any]], None]


def _atomic_write_text(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


MANIFEST_SUFFIX = ".manifest.json"
DRIFT_SUFFIX = ".drift.json"


def manifest_path(output: Path) -> Path:
    """The manifest beside an output file."""
    return output.with_name(output.name + MANIFEST_SUFFIX)


def drift_path(output: Path) -> Path:
    """The drift report beside an output file."""
    return output.with_name(output.name + DRIFT_SUFFIX)


def work_directory(output: Path) -> Path:
    return output.with_name(f".{output.name}.partial")


def _load_model(settings: ScoreSettings) -> tuple[ModelMetadata, Path]:
    model_dir = settings.model_repo / settings.model
    try:
        metadata = read_model_metadata(model_dir)
    except FileNotFoundError as error:
        raise ScoringError(
            f"{model_dir} has no modelship.json: give a repository written by `modelship package`"
            " and the model's name"
        ) from error
    model_file = model_dir / metadata.model_file
    if not model_file.is_file():
        raise ScoringError(f"{model_file} is missing from the model repository")
    return metadata, model_file


def check_columns(columns: list[str], metadata: ModelMetadata, key: str | None) -> None:
    """SchemaMismatchError unless every model column (and the key) is among ``columns``."""
    missing = [name for name in metadata.input_schema.column_names() if name not in columns]
    if key is not None and key not in columns:
        missing.append(key)
    if missing:
        raise SchemaMismatchError(
            f"the input lacks column(s) {', '.join(missing)}; model {metadata.name} takes"
            f" {', '.join(metadata.input_schema.column_names())}. Nothing was scored."
        )


def check_types(frame: pd.DataFrame, metadata: ModelMetadata, where: str) -> None:
    """SchemaMismatchError when a numeric column holds text."""
    try:
        frame_to_feeds(frame, metadata.input_schema)
    except SampleError as error:
        raise SchemaMismatchError(f"{where}: {error}") from error


def _read_dtypes(metadata: ModelMetadata) -> dict[str, Any]:
    # Categories stay text even when they look like numbers (zip codes, "01").
    return {c.name: str for c in metadata.input_schema.columns if c.kind == "categorical"}


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
        columns[key_column] = keys.to_numpy()
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


def _job_state(
    settings: ScoreSettings, input_path: Path, metadata: ModelMetadata
) -> dict[str, Any]:
    stat = input_path.stat()
    return {
        "input": settings.input_uri,
        "input_size": stat.st_size,
        # A downloaded copy's mtime says nothing about the object; a local file's does.
        "input_mtime_ns": None if is_remote(settings.input_uri) else stat.st_mtime_ns,
        "model_sha256": metadata.model_sha256,
        "rows_per_chunk": settings.rows_per_chunk,
        "key_column": settings.key_column,
    }


def default_work_directory(settings: ScoreSettings) -> Path:
    """Work directory of a job whose output is in object storage."""
    job = hashlib.sha256(f"{settings.input_uri}\n{settings.output_uri}".encode()).hexdigest()
    return Path(tempfile.gettempdir()) / "modelship-score" / job[:16]


def _clear_chunks(work: Path) -> None:
    for entry in work.glob("chunk-*"):
        entry.unlink()


def make_scorer(settings: ScoreSettings, metadata: ModelMetadata, model_file: Path) -> Scorer:
    """The scorer the settings ask for."""
    if settings.triton_url:
        return TritonScorer(
            settings.triton_url, metadata, settings.rows_per_request, settings.concurrency
        )
    return InProcessScorer(model_file, metadata)


def run_scoring(
    settings: ScoreSettings,
    progress: ProgressCallback | None = None,
    scorer_factory: Callable[[ScoreSettings, ModelMetadata, Path], Scorer] = make_scorer,
) -> ScoreManifest:
    """Run (or resume) one job; see the module docstring."""
    started_at = datetime.now(UTC)
    output_remote = is_remote(settings.output_uri)
    input_remote = is_remote(settings.input_uri)
    if output_remote:
        output_name = object_name(settings.output_uri)
        output_format = table_format(Path(output_name))
        if remote.exists(settings.output_uri) or remote.exists(
            settings.output_uri + MANIFEST_SUFFIX
        ):
            raise ScoringError(
                f"output {redact_uri(settings.output_uri)} already exists; remove it or choose"
                " another output"
            )
        work = settings.work_dir or default_work_directory(settings)
        assembled = work / output_name
    else:
        output = local_path(settings.output_uri)
        output_format = table_format(output)
        if output.exists() or manifest_path(output).exists():
            raise ScoringError(
                f"output {output} already exists; remove it or choose another output"
            )
        output.parent.mkdir(parents=True, exist_ok=True)
        work = settings.work_dir or work_directory(output)
        assembled = output
    if input_remote:
        input_name = object_name(settings.input_uri)
        table_format(Path(input_name))
    else:
        input_path = local_path(settings.input_uri)
        table_format(input_path)
        if not input_path.is_file():
            raise ScoringError(f"input {input_path} does not exist or is not a file")
    metadata, model_file = _load_model(settings)

    state_file = work / "state.json"
    previous = json.loads(state_file.read_text()) if state_file.is_file() else None
    if input_remote:
        work.mkdir(parents=True, exist_ok=True)
        input_path = work / f"input-{input_name}"
        if not (input_path.is_file() and previous and previous.get("input") == settings.input_uri):
            logger.info("downloading %s", redact_uri(settings.input_uri))
            remote.download(settings.input_uri, input_path)

    # Check the input against the schema before anything is scored or written.
    check_columns(input_columns(input_path), metadata, settings.key_column)
    dtypes = _read_dtypes(metadata)
    first = next(iter(read_chunks(input_path, min(settings.rows_per_chunk, 1000), dtypes)), None)
    if first is not None:
        check_types(first, metadata, f"{redact_uri(settings.input_uri)} (first rows)")

    state = _job_state(settings, input_path, metadata)
    work.mkdir(parents=True, exist_ok=True)
    if previous is not None and previous != state:
        logger.info("discarding partial results of a different job in %s", work)
        _clear_chunks(work)
    _atomic_write_text(state_file, json.dumps(state, indent=2))

    reference = metadata.reference_profile
    scorer = scorer_factory(settings, metadata, model_file)
    rows_in = 0
    chunk_count = 0
    resumed = 0
    clock = time.monotonic()
    try:
        for chunk_index, frame in enumerate(
            read_chunks(input_path, settings.rows_per_chunk, dtypes)
        ):
            chunk_file = work / f"chunk-{chunk_index:08d}.parquet"
            counts_file = work / f"chunk-{chunk_index:08d}.counts.json"
            row_numbers = np.arange(rows_in, rows_in + len(frame), dtype=np.int64)
            rows_in += len(frame)
            chunk_count += 1
            if chunk_file.is_file() and counts_file.is_file():
                resumed += 1
                continue
            where = (
                f"{input_path} rows {row_numbers[0]}-{row_numbers[-1]}"
                if len(frame)
                else str(input_path)
            )
            check_types(frame, metadata, where)
            outputs = scorer.score(frame)
            keys = frame[settings.key_column] if settings.key_column else None
            predictions = prediction_frame(
                outputs, metadata, row_numbers, keys, settings.key_column
            )
            counts = BatchCounts.empty(reference)
            counts.add_frame(frame, reference)
            _atomic_write_text(counts_file, counts.model_dump_json())
            temporary = chunk_file.with_name(f".{chunk_file.name}.tmp")
            predictions.to_parquet(temporary, index=False)
            temporary.replace(chunk_file)  # the chunk is committed
            if progress is not None:
                elapsed = time.monotonic() - clock
                progress(
                    {
                        "event": "chunk_scored",
                        "chunk": chunk_index,
                        "rows_done": rows_in,
                        "rows_per_second": round(rows_in / elapsed) if elapsed > 0 else None,
                    }
                )
    finally:
        scorer.close()

    # Assemble the output from the committed chunks, then drift, then the manifest.
    total = BatchCounts.empty(reference)
    handle, temporary_name = tempfile.mkstemp(
        prefix=f".{assembled.name}.", suffix=".tmp", dir=assembled.parent
    )
    os.close(handle)
    temporary_output = Path(temporary_name)
    temporary_output.unlink()
    rows_out = 0
    try:
        writer = TableWriter(temporary_output, output_format)
        for chunk_index in range(chunk_count):
            chunk = pd.read_parquet(work / f"chunk-{chunk_index:08d}.parquet")
            rows_out += len(chunk)
            writer.write(chunk)
            total.merge(
                batch_counts_from_json((work / f"chunk-{chunk_index:08d}.counts.json").read_text())
            )
        writer.close()
        if rows_out != rows_in:
            raise ScoringError(f"internal error: {rows_in} rows read but {rows_out} assembled")
        report = drift_report(total, reference, settings.psi_threshold)
        drift_file = drift_path(assembled)
        _atomic_write_text(drift_file, report.model_dump_json(indent=2))
        temporary_output.replace(assembled)
    finally:
        temporary_output.unlink(missing_ok=True)
    if output_remote:
        remote.upload(assembled, settings.output_uri)
        remote.upload(drift_file, settings.output_uri + DRIFT_SUFFIX)
    manifest = ScoreManifest(
        input=settings.input_uri,
        output=settings.output_uri,
        output_format=output_format,
        rows_in=rows_in,
        rows_out=rows_out,
        model_name=metadata.name,
        model_version=metadata.version,
        model_sha256=metadata.model_sha256,
        scorer=scorer.description,
        rows_per_chunk=settings.rows_per_chunk,
        chunks=chunk_count,
        chunks_resumed=resumed,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        drift_file=drift_file.name,
        drifted_features=report.drifted_features,
    )
    manifest_file = manifest_path(assembled)
    _atomic_write_text(manifest_file, manifest.model_dump_json(indent=2))
    if output_remote:
        remote.upload(manifest_file, settings.output_uri + MANIFEST_SUFFIX)
    shutil.rmtree(work, ignore_errors=True)
    return manifest
