"""One batch scoring job: input table -> predictions, atomic, resumable, with a manifest and drift.

Beside the output ``OUT`` (e.g. ``scores.parquet``), local or in object storage:

- ``.OUT.partial/``: work in progress, the chunks committed so far (see
  modelship_serving.scoring.partial). A rerun of the same job, in this process or
  a new pod, skips the committed chunks and scores the rest: no row is lost or
  scored twice. It is deleted once the job is done.
- ``OUT``: all chunks in input order, in the format OUT's extension names,
  published (renamed into place, or uploaded) only when complete. An attempt that
  commits every chunk itself writes it as it goes, through one open writer in the work
  directory; a resumed attempt assembles it from the committed chunks.
- ``OUT.drift.json``: drift of the whole input against the model's reference profile.
- ``OUT.manifest.json``: published last; its presence means the job finished.
- optionally a drift summary in a local file (a batch pod's termination message; see
  modelship_serving.drift_summary).

An attempt that finds ``OUT`` published but no manifest (a crash in between)
finishes the job when ``OUT`` is the output its own committed chunks produced, and
refuses to touch any other ``OUT``. Input from object storage is downloaded into the
work directory first, afresh by every attempt. A job is its input's content, not its uri:
the state records a download's sha256 (a local file's size, mtime and ctime) and the uri
without its query string, so a re-signed presigned URL resumes, a replaced input starts
over, and no signature is ever stored. Where files live is the business of
modelship_serving.scoring.destination; this module never asks.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial as partial_function
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from modelship_serving.drift import BatchCounts
from modelship_serving.errors import ScoringError
from modelship_serving.fetch.uri import redact_uri
from modelship_serving.metadata import ModelMetadata
from modelship_serving.scoring.checks import (
    check_input,
    load_model,
    read_input,
    types_checked,
)
from modelship_serving.scoring.chunk import Chunk
from modelship_serving.scoring.counting import chunk_counts
from modelship_serving.scoring.destination import Location, locate
from modelship_serving.scoring.formats import table_format
from modelship_serving.scoring.output import (
    DRIFT_SUFFIX,
    MANIFEST_SUFFIX,
    StreamedOutput,
    manifest_path,
    partial_folder,
    prediction_table,
    work_directory,
    write_chunk,
)
from modelship_serving.scoring.partial import PartialResults
from modelship_serving.scoring.pipeline import in_order_work, read_ahead
from modelship_serving.scoring.publish import (
    JobOutput,
    assemble_and_publish,
    finish_published,
    publish_drift_and_manifest,
)
from modelship_serving.scoring.scorers import (
    Scorer,
    TritonScorer,
    in_process_scorer,
)
from modelship_serving.scoring.settings import ScoreManifest, ScoreSettings
from modelship_serving.scoring.sharded import is_sharded_job, run_sharded_scoring

__all__ = [
    "ScoreManifest",
    "ScoreSettings",
    "default_work_directory",
    "make_scorer",
    "manifest_path",
    "run_scoring",
    "work_directory",
]

ProgressCallback = Callable[[dict[str, Any]], None]
ScorerFactory = Callable[[ScoreSettings, ModelMetadata, Path], Scorer]


def make_scorer(settings: ScoreSettings, metadata: ModelMetadata, model_file: Path) -> Scorer:
    """The scorer the settings ask for."""
    if settings.triton_url:
        return TritonScorer(
            settings.triton_url, metadata, settings.rows_per_request, settings.concurrency or 4
        )
    # A pod's CPU limit is not what onnxruntime sees as cores: the builder passes the
    # job's concurrency so the threads match what the pod asked for.
    return in_process_scorer(model_file, metadata, threads=settings.concurrency)


def default_work_directory(settings: ScoreSettings) -> Path:
    """Scratch work directory of a job whose output is in object storage."""
    job = hashlib.sha256(f"{settings.input_uri}\n{settings.output_uri}".encode()).hexdigest()
    return Path(tempfile.gettempdir()) / "modelship-score" / job[:16]


def _output(settings: ScoreSettings) -> JobOutput:
    location = locate(settings.output_uri)
    work, mirror = location.folder.partial_work(
        partial_folder(location.name), settings.work_dir, default_work_directory(settings)
    )
    table = table_format(Path(location.file_name))
    shown = redact_uri(settings.output_uri)
    return JobOutput(location, shown, table, PartialResults(work, mirror))


def _input_file(settings: ScoreSettings, work: Path) -> tuple[Location, Path]:
    """The input and a path to it on this machine: the file itself, or a download kept in
    the work directory for the next attempt of the same job."""
    source = locate(settings.input_uri)
    if settings.input_format is None:
        table_format(Path(source.file_name))  # an unknown extension is refused first
    copy = work / f"input-{source.file_name}"
    try:
        return source, source.folder.local_file(source.name, copy)
    except FileNotFoundError as error:
        raise ScoringError(f"input {source.show()} does not exist or is not a file") from error


def _make_work_directory(work: Path) -> None:
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ScoringError(
            f"cannot write {work} ({error.strerror}): give an --output in a folder this job"
            " can write, or a writable --work-dir"
        ) from error


def _job_state(
    settings: ScoreSettings, source: Location, input_path: Path, metadata: ModelMetadata
) -> dict[str, Any]:
    # The uri without its query string: a presigned URL is re-signed for a retry (and must
    # not be stored); the content identity tells whether the table behind it changed.
    return {
        "input": redact_uri(settings.input_uri),
        "input_size": input_path.stat().st_size,
        "input_identity": source.folder.content_identity(source.name, input_path),
        "input_format": settings.input_format,
        "model_sha256": metadata.model_sha256,
        "rows_per_chunk": settings.rows_per_chunk,
        "key_column": settings.key_column,
        "chunks": "arrow",  # a job started by a version that committed Parquet starts over
    }


def run_scoring(
    settings: ScoreSettings,
    progress: ProgressCallback | None = None,
    scorer_factory: ScorerFactory = make_scorer,
) -> ScoreManifest:
    """Run (or resume, or finish) one job; see the module docstring (and, for a dataset or a
    shard of a sharded job, modelship_serving.scoring.sharded)."""
    if is_sharded_job(settings):
        return run_sharded_scoring(
            settings, default_work_directory(settings), scorer_factory, progress
        )
    started_at = datetime.now(UTC)
    output = _output(settings)
    if output.exists(MANIFEST_SUFFIX):
        raise ScoringError(
            f"output {output.shown} already exists; remove it or choose another output"
        )
    source, input_path = _input_file(settings, output.partial.work)
    metadata, model_file = load_model(settings.model_repo, settings.model)
    shown_input = redact_uri(settings.input_uri)
    # Check the input against the schema before anything is scored or written.
    check_input(
        input_path,
        shown_input,
        settings.input_format,
        metadata,
        settings.key_column,
        settings.rows_per_chunk,
    )
    state = _job_state(settings, source, input_path, metadata)
    if output.exists():
        return finish_published(output, state, settings.drift_summary)
    _make_work_directory(output.partial.work)
    output.partial.begin(state)

    scorer = scorer_factory(settings, metadata, model_file)
    stream = (
        None
        if output.partial.is_committed(0)
        else StreamedOutput(
            output.partial.work / f"streamed-{output.location.file_name}", output.format, metadata
        )
    )
    try:
        chunks = read_input(
            input_path,
            settings.rows_per_chunk,
            metadata,
            settings.key_column,
            settings.input_format,
        )
        rows_in, chunk_count, resumed = score_chunks(
            settings,
            numbered(chunks),
            shown_input,
            metadata,
            scorer,
            output.partial,
            stream,
            progress,
        )
    finally:
        scorer.close()
        if stream is not None:
            stream.close()
    summary = ScoreManifest(
        input=shown_input,
        output=output.shown,
        output_format=output.format,
        rows_in=rows_in,
        rows_out=rows_in,
        model_name=metadata.name,
        model_version=metadata.version,
        model_sha256=metadata.model_sha256,
        scorer=scorer.description,
        rows_per_chunk=settings.rows_per_chunk,
        chunks=chunk_count,
        chunks_resumed=resumed,
        started_at=started_at,
        finished_at=started_at,  # set once the output is assembled
        drift_file=output.location.file_name + DRIFT_SUFFIX,
        drifted_features=[],
    )
    manifest, drift = assemble_and_publish(
        output, metadata, summary, settings.psi_threshold, stream
    )
    publish_drift_and_manifest(output, drift, manifest, settings.drift_summary)
    return manifest


def numbered(batches: Iterator[pa.RecordBatch], first_row: int = 0) -> Iterator[Chunk]:
    """``batches`` as chunks numbered by their rows in the table, from ``first_row`` on
    (errors name the `row`, and the output carries it)."""
    row = first_row
    for batch in batches:
        yield Chunk(batch, row)
        row += batch.num_rows


def score_chunks(
    settings: ScoreSettings,
    chunks: Iterator[Chunk],
    shown: str,
    metadata: ModelMetadata,
    scorer: Scorer,
    partial: PartialResults,
    stream: StreamedOutput | None,
    progress: ProgressCallback | None,
    first_chunk: int = 0,
    passthrough: dict[str, str] | None = None,
) -> tuple[int, int, int]:
    """Score and commit every chunk not committed yet: (rows, chunks, chunks resumed).

    ``chunks`` are numbered by row (see :func:`numbered`) and committed as chunks
    ``first_chunk`` on; ``passthrough`` columns (one value each) go into every output row.
    The next chunk is read and the previous one committed while this one is scored (see
    modelship_serving.scoring.pipeline); chunks are committed in order, and every chunk
    scored before an error is committed before the error leaves.
    """
    reference = metadata.reference_profile
    rows_in = chunk_count = resumed = 0
    clock = time.monotonic()

    def counted(chunks: Iterator[Chunk]) -> Iterator[tuple[Chunk, BatchCounts]]:
        # Drift is counted on the reading thread, which has the least to do of the three.
        for chunk in chunks:
            yield chunk, chunk_counts(chunk, reference)

    def commit(
        chunk_index: int,
        chunk: Chunk,
        counts: BatchCounts,
        outputs: dict[str, np.ndarray[Any, Any]],
    ) -> None:
        keys = chunk.column(settings.key_column) if settings.key_column else None
        predictions = prediction_table(
            outputs, metadata, chunk.row_numbers, keys, settings.key_column, passthrough
        )
        partial.commit(
            chunk_index,
            lambda path: write_chunk(predictions, path),
            counts.model_dump_json(),
        )
        if stream is not None:
            stream.append(chunk_index, predictions)

    with in_order_work("commit") as commits:
        for chunk_index, (chunk, counts) in enumerate(
            read_ahead(counted(read_ahead(chunks))), start=first_chunk
        ):
            rows_in += len(chunk)
            chunk_count += 1
            if partial.is_committed(chunk_index):
                resumed += 1
                if stream is not None:
                    stream.abandoned = True
                continue
            last_row = chunk.first_row + len(chunk) - 1
            where = f"{shown} rows {chunk.first_row}-{last_row}" if len(chunk) else shown
            with types_checked(where):  # the scorer's conversion is the type check
                outputs = scorer.score(chunk)
            commits.submit(partial_function(commit, chunk_index, chunk, counts, outputs))
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
    return rows_in, chunk_count, resumed
