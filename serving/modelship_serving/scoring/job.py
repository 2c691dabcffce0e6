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
work directory first. Where files live is the business of
modelship_serving.scoring.destination; this module never asks.
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

from modelship_serving.digest import file_sha256
from modelship_serving.drift import BatchCounts, batch_counts_from_json, drift_report
from modelship_serving.errors import ScoringError
from modelship_serving.fetch.uri import redact_uri
from modelship_serving.metadata import ModelMetadata
from modelship_serving.scoring.checks import check_input, check_types, load_model, read_dtypes
from modelship_serving.scoring.destination import LocalDestination, Location, locate
from modelship_serving.scoring.formats import TableFormat, TableWriter, read_chunks, table_format
from modelship_serving.scoring.output import (
    DRIFT_SUFFIX,
    MANIFEST_SUFFIX,
    manifest_path,
    partial_folder,
    prediction_frame,
    work_directory,
)
from modelship_serving.scoring.partial import STATE, PartialResults
from modelship_serving.scoring.scorers import InProcessScorer, Scorer, TritonScorer
from modelship_serving.scoring.settings import ScoreManifest, ScoreSettings

__all__ = [
    "ScoreManifest",
    "ScoreSettings",
    "default_work_directory",
    "make_scorer",
    "manifest_path",
    "run_scoring",
    "work_directory",
]

logger = logging.getLogger(__name__)

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
    return InProcessScorer(model_file, metadata, threads=settings.concurrency)


def default_work_directory(settings: ScoreSettings) -> Path:
    """Scratch work directory of a job whose output is in object storage."""
    job = hashlib.sha256(f"{settings.input_uri}\n{settings.output_uri}".encode()).hexdigest()
    return Path(tempfile.gettempdir()) / "modelship-score" / job[:16]


@dataclass(frozen=True)
class _Output:
    """Where a job's output is published, in which format, and its partial results."""

    location: Location
    shown: str  # the uri as given, safe to log
    format: TableFormat
    partial: PartialResults

    def exists(self, suffix: str = "") -> bool:
        return self.location.folder.exists(self.location.name + suffix)

    def write_beside(self, suffix: str, text: str) -> None:
        self.location.folder.write_text(self.location.name + suffix, text)


def _output(settings: ScoreSettings) -> _Output:
    location = locate(settings.output_uri)
    work, mirror = location.folder.partial_work(
        partial_folder(location.name), settings.work_dir, default_work_directory(settings)
    )
    table = table_format(Path(location.file_name))
    shown = redact_uri(settings.output_uri)
    return _Output(location, shown, table, PartialResults(work, mirror))


def _input_file(settings: ScoreSettings, work: Path) -> tuple[Location, Path]:
    """The input and a path to it on this machine: the file itself, or a download kept in
    the work directory for the next attempt of the same job."""
    source = locate(settings.input_uri)
    if settings.input_format is None:
        table_format(Path(source.file_name))  # an unknown extension is refused first
    copy = work / f"input-{source.file_name}"
    previous = json.loads(LocalDestination(work).read_text(STATE) or "{}")
    if previous.get("input") != settings.input_uri:
        copy.unlink(missing_ok=True)
    try:
        return source, source.folder.local_file(source.name, copy)
    except FileNotFoundError as error:
        raise ScoringError(f"input {source.show()} does not exist or is not a file") from error


def _job_state(
    settings: ScoreSettings, source: Location, input_path: Path, metadata: ModelMetadata
) -> dict[str, Any]:
    return {
        "input": settings.input_uri,
        "input_size": input_path.stat().st_size,
        "input_mtime_ns": source.folder.modified_ns(source.name),
        "input_format": settings.input_format,
        "model_sha256": metadata.model_sha256,
        "rows_per_chunk": settings.rows_per_chunk,
        "key_column": settings.key_column,
    }


def run_scoring(
    settings: ScoreSettings,
    progress: ProgressCallback | None = None,
    scorer_factory: ScorerFactory = make_scorer,
) -> ScoreManifest:
    """Run (or resume, or finish) one job; see the module docstring."""
    started_at = datetime.now(UTC)
    output = _output(settings)
    if output.exists(MANIFEST_SUFFIX):
        raise ScoringError(
            f"output {output.shown} already exists; remove it or choose another output"
        )
    source, input_path = _input_file(settings, output.partial.work)
    metadata, model_file = load_model(settings.model_repo, settings.model)
    # Check the input against the schema before anything is scored or written.
    check_input(
        input_path,
        redact_uri(settings.input_uri),
        settings.input_format,
        metadata,
        settings.key_column,
        settings.rows_per_chunk,
    )
    state = _job_state(settings, source, input_path, metadata)
    if output.exists():
        return _finish_published(output, state)
    output.partial.begin(state)

    scorer = scorer_factory(settings, metadata, model_file)
    try:
        rows_in, chunk_count, resumed = _score_chunks(
            settings, input_path, metadata, scorer, output.partial, progress
        )
    finally:
        scorer.close()
    summary = ScoreManifest(
        input=settings.input_uri,
        output=settings.output_uri,
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
    manifest, drift = _assemble_and_publish(output, metadata, summary, settings.psi_threshold)
    _publish_drift_and_manifest(output, drift, manifest)
    return manifest


def _score_chunks(
    settings: ScoreSettings,
    input_path: Path,
    metadata: ModelMetadata,
    scorer: Scorer,
    partial: PartialResults,
    progress: ProgressCallback | None,
) -> tuple[int, int, int]:
    """Score and commit every chunk not committed yet: (rows, chunks, chunks resumed)."""
    reference = metadata.reference_profile
    rows_in = chunk_count = resumed = 0
    clock = time.monotonic()
    dtypes = read_dtypes(metadata)
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
        predictions = prediction_frame(outputs, metadata, row_numbers, keys, settings.key_column)
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
    return rows_in, chunk_count, resumed


def _assemble_and_publish(
    output: _Output, metadata: ModelMetadata, summary: ScoreManifest, psi_threshold: float
) -> tuple[ScoreManifest, dict[str, Any]]:
    """Assemble the output from the committed chunks, record it, then publish it."""
    partial = output.partial
    reference = metadata.reference_profile
    total = BatchCounts.empty(reference)
    staging = output.location.folder.staging_dir(partial.work)
    staging.mkdir(parents=True, exist_ok=True)
    handle, temporary_name = tempfile.mkstemp(
        prefix=f".{output.location.file_name}.", suffix=".tmp", dir=staging
    )
    os.close(handle)
    temporary_output = Path(temporary_name)
    temporary_output.unlink()
    rows_out = 0
    try:
        writer = TableWriter(temporary_output, output.format)
        for chunk_index in range(summary.chunks):
            chunk = pd.read_parquet(partial.chunk(chunk_index))
            rows_out += len(chunk)
            writer.write(chunk)
            total.merge(batch_counts_from_json(partial.counts(chunk_index).read_text()))
        writer.close()
        if rows_out != summary.rows_in:
            raise ScoringError(
                f"internal error: {summary.rows_in} rows read but {rows_out} assembled"
            )
        report = drift_report(total, reference, psi_threshold)
        manifest = summary.model_copy(
            update={
                "rows_out": rows_out,
                "finished_at": datetime.now(UTC),
                "drifted_features": report.drifted_features,
            }
        )
        drift = report.model_dump(mode="json")
        partial.record_output(
            {
                "sha256": file_sha256(temporary_output),
                "manifest": manifest.model_dump(mode="json"),
                "drift": drift,
            }
        )
        output.location.folder.move_file(temporary_output, output.location.name)
    finally:
        temporary_output.unlink(missing_ok=True)
    return manifest, drift


def _finish_published(output: _Output, state: dict[str, Any]) -> ScoreManifest:
    """Finish a job whose output was published before a crash, if it is this job's output."""
    recorded = output.partial.recorded_output(state)
    if recorded is not None:
        copy = output.partial.work / f".published-{output.location.file_name}"
        copy.unlink(missing_ok=True)
        digest = file_sha256(output.location.folder.local_file(output.location.name, copy))
        copy.unlink(missing_ok=True)
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
    output.write_beside(DRIFT_SUFFIX, json.dumps(drift, indent=2))
    output.write_beside(MANIFEST_SUFFIX, manifest.model_dump_json(indent=2))
    output.partial.remove()
