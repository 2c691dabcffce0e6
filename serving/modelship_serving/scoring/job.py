"""One batch scoring job: input table -> predictions, atomic, resumable, with a manifest and drift.

Beside the output ``OUT`` (e.g. ``scores.parquet``), local or in object storage:

- ``.OUT.partial/``: work in progress, the chunks committed so far (see
  modelship_serving.scoring.partial). A rerun of the same job, in this process or
  a new pod, skips the committed chunks and scores the rest: no row is lost or
  scored twice. It is deleted once the job is done.
- ``OUT``: all chunks in input order, in the format OUT's extension names,
  published (renamed into place, or uploaded) only when complete.
- ``OUT.drift.json``: drift of the whole input against the model's reference profile.
- ``OUT.manifest.json``: published last; its presence means the job finished.

An attempt that finds ``OUT`` published but no manifest (a crash in between)
finishes the job when ``OUT`` is the output its own committed chunks produced, and
refuses to touch any other ``OUT``. Input from object storage is downloaded into the
work directory first (see modelship_serving.scoring.remote).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from modelship_serving.digest import file_sha256
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
    TableFormat,
    TableWriter,
    input_columns,
    local_path,
    read_chunks,
    table_format,
)
from modelship_serving.scoring.partial import STATE, PartialResults, atomic_write_text
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
    input_format: TableFormat | None = Field(
        default=None, description="csv, parquet or jsonl; absent: from the input's extension."
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
    concurrency: int | None = Field(
        default=None,
        ge=1,
        description="Parallelism: onnxruntime threads in-process (default: onnxruntime's"
        " choice, every core of the host), Triton requests in flight (default 4).",
    )
    key_column: str | None = Field(
        default=None, description="Input column carried into the output next to the row number."
    )
    work_dir: Path | None = Field(
        default=None,
        description="Where partial results live; default: beside a local output, or"
        " $TMPDIR/modelship-score/<hash of the job> for an s3/gs output (scratch space"
        " only: its committed chunks are kept under a hidden prefix beside the output).",
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
    started_at: datetime = Field(
        description="When the run that assembled the output started (UTC)."
    )
    finished_at: datetime = Field(description="When the output was complete (UTC).")
    drift_file: str = Field(description="The drift report written beside the output.")
    drifted_features: list[str] = Field(description="Features whose PSI exceeds the threshold.")


ProgressCallback = Callable[[dict[str, Any]], None]


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
        missing.append(f"{key} (the --key column)")
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
        "input_format": settings.input_format,
        "model_sha256": metadata.model_sha256,
        "rows_per_chunk": settings.rows_per_chunk,
        "key_column": settings.key_column,
    }


def default_work_directory(settings: ScoreSettings) -> Path:
    """Work directory of a job whose output is in object storage."""
    job = hashlib.sha256(f"{settings.input_uri}\n{settings.output_uri}".encode()).hexdigest()
    return Path(tempfile.gettempdir()) / "modelship-score" / job[:16]


def make_scorer(settings: ScoreSettings, metadata: ModelMetadata, model_file: Path) -> Scorer:
    """The scorer the settings ask for."""
    if settings.triton_url:
        return TritonScorer(
            settings.triton_url, metadata, settings.rows_per_request, settings.concurrency or 4
        )
    # A pod's CPU limit is not what onnxruntime sees as cores: the builder passes the
    # job's concurrency so the threads match what the pod asked for.
    return InProcessScorer(model_file, metadata, threads=settings.concurrency)


@dataclass(frozen=True)
class _Output:
    """Where a job's output is published, where it is assembled, and its partial results."""

    uri: str
    format: TableFormat
    remote: bool
    assembled: Path  # the output file itself when local; a scratch copy when remote
    partial: PartialResults

    @property
    def shown(self) -> str:
        return redact_uri(self.uri)

    def exists(self, suffix: str = "") -> bool:
        if self.remote:
            return remote.exists(self.uri + suffix)
        return self.assembled.with_name(self.assembled.name + suffix).exists()


def _output(settings: ScoreSettings) -> _Output:
    if is_remote(settings.output_uri):
        name = object_name(settings.output_uri)
        work = settings.work_dir or default_work_directory(settings)
        mirror = remote.partial_prefix(settings.output_uri)
        return _Output(
            settings.output_uri,
            table_format(Path(name)),
            True,
            work / name,
            PartialResults(work, mirror),
        )
    output = local_path(settings.output_uri)
    work = settings.work_dir or work_directory(output)
    return _Output(settings.output_uri, table_format(output), False, output, PartialResults(work))


def _input_file(settings: ScoreSettings, work: Path) -> Path:
    """The input as a local file: the file itself, or a download kept in the work directory."""
    if not is_remote(settings.input_uri):
        path = local_path(settings.input_uri)
        if settings.input_format is None:
            table_format(path)  # an unknown extension is refused before anything else
        if not path.is_file():
            raise ScoringError(f"input {path} does not exist or is not a file")
        return path
    name = object_name(settings.input_uri)
    if settings.input_format is None:
        table_format(Path(name))
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"input-{name}"
    state_file = work / STATE
    previous = json.loads(state_file.read_text()) if state_file.is_file() else {}
    if not (path.is_file() and previous.get("input") == settings.input_uri):
        logger.info("downloading %s", redact_uri(settings.input_uri))
        remote.download(settings.input_uri, path)
    return path


def run_scoring(
    settings: ScoreSettings,
    progress: ProgressCallback | None = None,
    scorer_factory: Callable[[ScoreSettings, ModelMetadata, Path], Scorer] = make_scorer,
) -> ScoreManifest:
    """Run (or resume, or finish) one job; see the module docstring."""
    started_at = datetime.now(UTC)
    output = _output(settings)
    if output.exists(MANIFEST_SUFFIX):
        raise ScoringError(
            f"output {output.shown} already exists; remove it or choose another output"
        )
    if not output.remote:
        output.assembled.parent.mkdir(parents=True, exist_ok=True)
    input_path = _input_file(settings, output.partial.work)
    metadata, model_file = _load_model(settings)

    # Check the input against the schema before anything is scored or written.
    no_rows = ScoringError(
        f"input {redact_uri(settings.input_uri)} has no rows; nothing was scored"
    )
    columns = input_columns(input_path, settings.input_format)
    if not columns:  # an empty JSONL file
        raise no_rows
    check_columns(columns, metadata, settings.key_column)
    dtypes = _read_dtypes(metadata)
    first_rows = read_chunks(
        input_path, min(settings.rows_per_chunk, 1000), dtypes, settings.input_format
    )
    first = next(iter(first_rows), None)
    if first is None or first.empty:
        raise no_rows
    check_types(first, metadata, f"{redact_uri(settings.input_uri)} (first rows)")

    state = _job_state(settings, input_path, metadata)
    if output.exists():
        return _finish_published(output, state)
    output.partial.begin(state)

    reference = metadata.reference_profile
    scorer = scorer_factory(settings, metadata, model_file)
    partial = output.partial
    rows_in = 0
    chunk_count = 0
    resumed = 0
    clock = time.monotonic()
    try:
        chunks = read_chunks(input_path, settings.rows_per_chunk, dtypes, settings.input_format)
        for chunk_index, frame in enumerate(chunks):
            row_numbers = np.arange(rows_in, rows_in + len(frame), dtype=np.int64)
            rows_in += len(frame)
            chunk_count += 1
            if partial.is_committed(chunk_index):
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
            partial.commit(
                chunk_index,
                lambda path, p=predictions: p.to_parquet(path, index=False),
                counts.model_dump_json(),
            )
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

    # Assemble the output from the committed chunks, record it, then publish it,
    # its drift report and, last, its manifest.
    total = BatchCounts.empty(reference)
    output.assembled.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary_name = tempfile.mkstemp(
        prefix=f".{output.assembled.name}.", suffix=".tmp", dir=output.assembled.parent
    )
    os.close(handle)
    temporary_output = Path(temporary_name)
    temporary_output.unlink()
    rows_out = 0
    try:
        writer = TableWriter(temporary_output, output.format)
        for chunk_index in range(chunk_count):
            chunk = pd.read_parquet(partial.chunk(chunk_index))
            rows_out += len(chunk)
            writer.write(chunk)
            total.merge(batch_counts_from_json(partial.counts(chunk_index).read_text()))
        writer.close()
        if rows_out != rows_in:
            raise ScoringError(f"internal error: {rows_in} rows read but {rows_out} assembled")
        report = drift_report(total, reference, settings.psi_threshold)
        manifest = ScoreManifest(
            input=settings.input_uri,
            output=settings.output_uri,
            output_format=output.format,
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
            drift_file=drift_path(output.assembled).name,
            drifted_features=report.drifted_features,
        )
        drift = report.model_dump(mode="json")
        partial.record_output(
            {
                "sha256": file_sha256(temporary_output),
                "manifest": manifest.model_dump(mode="json"),
                "drift": drift,
            }
        )
        if output.remote:
            remote.upload(temporary_output, output.uri)
        else:
            temporary_output.replace(output.assembled)
    finally:
        temporary_output.unlink(missing_ok=True)
    _publish_drift_and_manifest(output, drift, manifest)
    return manifest


def _finish_published(output: _Output, state: dict[str, Any]) -> ScoreManifest:
    """Finish a job whose output was published before a crash, if it is this job's output."""
    recorded = output.partial.recorded_output(state)
    if recorded is not None:
        if output.remote:
            output.partial.work.mkdir(parents=True, exist_ok=True)
            copy = output.partial.work / f".published-{output.assembled.name}"
            remote.download(output.uri, copy)
            digest = file_sha256(copy)
            copy.unlink()
        else:
            digest = file_sha256(output.assembled)
        if digest == recorded["sha256"]:
            logger.info("%s was published by this job before it stopped; finishing", output.shown)
            manifest = ScoreManifest.model_validate(recorded["manifest"])
            _publish_drift_and_manifest(output, recorded["drift"], manifest)
            return manifest
    raise ScoringError(
        f"output {output.shown} already exists and is not this job's; remove it or choose"
        " another output"
    )


def _publish_drift_and_manifest(
    output: _Output, drift: dict[str, Any], manifest: ScoreManifest
) -> None:
    output.partial.work.mkdir(parents=True, exist_ok=True)
    folder = output.partial.work if output.remote else output.assembled.parent
    drift_file = folder / drift_path(output.assembled).name
    manifest_file = folder / manifest_path(output.assembled).name
    atomic_write_text(drift_file, json.dumps(drift, indent=2))
    if output.remote:
        remote.upload(drift_file, output.uri + DRIFT_SUFFIX)
    atomic_write_text(manifest_file, manifest.model_dump_json(indent=2))
    if output.remote:
        remote.upload(manifest_file, output.uri + MANIFEST_SUFFIX)
    output.partial.remove()
