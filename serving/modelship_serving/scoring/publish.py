"""Publishing a job's output ``OUT``: assembled from the committed chunks, recorded, then
moved into place whole; then its drift report and, last, its manifest. A job that finds
``OUT`` already published finishes only if ``OUT`` is what it recorded."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelship_serving.digest import file_sha256
from modelship_serving.drift import BatchCounts, batch_counts_from_json, drift_report
from modelship_serving.drift_summary import write_drift_summary
from modelship_serving.errors import ScoringError
from modelship_serving.metadata import ModelMetadata
from modelship_serving.scoring.destination import Location
from modelship_serving.scoring.formats import TableFormat, TableWriter
from modelship_serving.scoring.output import (
    DRIFT_SUFFIX,
    MANIFEST_SUFFIX,
    StreamedOutput,
    label_outputs,
    read_chunk,
)
from modelship_serving.scoring.partial import PartialResults
from modelship_serving.scoring.settings import ScoreManifest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobOutput:
    """Where a job's output is published, in which format, and its partial results."""

    location: Location
    shown: str  # the uri as given, safe to log
    format: TableFormat
    partial: PartialResults

    def exists(self, suffix: str = "") -> bool:
        return self.location.folder.exists(self.location.name + suffix)

    def write_beside(self, suffix: str, text: str) -> None:
        self.location.folder.write_text(self.location.name + suffix, text)


def assemble_and_publish(
    output: JobOutput,
    metadata: ModelMetadata,
    summary: ScoreManifest,
    psi_threshold: float,
    stream: StreamedOutput | None = None,
) -> tuple[ScoreManifest, dict[str, Any]]:
    """Assemble the output from the committed chunks (or take the output ``stream`` wrote
    when it holds every chunk), record it, then publish it."""
    partial = output.partial
    reference = metadata.reference_profile
    total = BatchCounts.empty(reference)
    for chunk_index in range(summary.chunks):
        total.merge(batch_counts_from_json(partial.counts(chunk_index).read_text()))
    streamed = None if stream is None else stream.file(summary.chunks)
    if stream is not None and streamed is not None:
        temporary_output, rows_out = streamed, stream.rows
    else:
        temporary_output = _staging_file(output)
        rows_out = 0
    try:
        if streamed is None:
            writer = TableWriter(temporary_output, output.format, label_outputs(metadata))
            for chunk_index in range(summary.chunks):
                rows = read_chunk(partial.chunk(chunk_index))
                writer.write_arrow(rows)
                rows_out += rows.num_rows
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


def _staging_file(output: JobOutput) -> Path:
    """A free name where the output can be assembled and then published whole."""
    staging = output.location.folder.staging_dir(output.partial.work)
    staging.mkdir(parents=True, exist_ok=True)
    handle, temporary_name = tempfile.mkstemp(
        prefix=f".{output.location.file_name}.", suffix=".tmp", dir=staging
    )
    os.close(handle)
    temporary_output = Path(temporary_name)
    temporary_output.unlink()
    return temporary_output


def finish_published(
    output: JobOutput, state: dict[str, Any], summary: Path | None = None
) -> ScoreManifest:
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
            publish_drift_and_manifest(output, recorded["drift"], manifest, summary)
            return manifest
    raise ScoringError(
        f"output {output.shown} already exists and is not this job's; remove it or choose"
        " another output"
    )


def publish_drift_and_manifest(
    output: JobOutput, drift: dict[str, Any], manifest: ScoreManifest, summary: Path | None = None
) -> None:
    output.write_beside(DRIFT_SUFFIX, json.dumps(drift, indent=2))
    output.write_beside(MANIFEST_SUFFIX, manifest.model_dump_json(indent=2))
    if summary is not None:
        write_drift_summary(summary, drift, manifest.finished_at, output.shown)
    output.partial.remove()
