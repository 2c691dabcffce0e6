"""Publishing a dataset or sharded scoring job once every shard has committed: the output
assembled from committed chunks only (the same bytes whoever publishes), then its drift
report and, last, its manifest (see `sharded` for why no lock is needed)."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelship_serving.drift import BatchCounts, batch_counts_from_json, drift_report
from modelship_serving.drift_summary import write_drift_summary
from modelship_serving.errors import ScoringError
from modelship_serving.fetch.uri import redact_uri
from modelship_serving.metadata import ModelMetadata
from modelship_serving.scoring.destination import LocalDestination
from modelship_serving.scoring.formats import TableWriter
from modelship_serving.scoring.output import (
    DRIFT_SUFFIX,
    MANIFEST_SUFFIX,
    label_outputs,
    read_chunk,
)
from modelship_serving.scoring.settings import ScoreManifest, ScoreSettings
from modelship_serving.scoring.shard_output import (
    OUTPUT_RECORD,
    ShardedOutput,
    chunk_file,
    part_name,
)


def base_manifest(
    settings: ScoreSettings,
    output: ShardedOutput,
    markers: list[dict[str, Any]],
    metadata: ModelMetadata,
    started_at: datetime,
    committed: int,
) -> ScoreManifest:
    rows = sum(int(marker["rows"]) for marker in markers)
    scorers = sorted({str(marker["scorer"]) for marker in markers if marker["pieces"]})
    return ScoreManifest(
        input=redact_uri(settings.input_uri),
        output=output.shown,
        output_format=output.format,
        rows_in=rows,
        rows_out=0,
        model_name=metadata.name,
        model_version=metadata.version,
        model_sha256=metadata.model_sha256,
        scorer=", ".join(scorers) or "nothing",
        rows_per_chunk=settings.rows_per_chunk,
        chunks=sum(int(marker["chunks"]) for marker in markers),
        chunks_resumed=sum(int(marker["resumed"]) for marker in markers),
        started_at=started_at,
        finished_at=started_at,
        drift_file=output.beside(DRIFT_SUFFIX)[1],
        drifted_features=[],
        job=markers[0]["job"],
        shards=settings.shards,
        shards_committed=committed,
    )


def shard_manifest(
    settings: ScoreSettings,
    output: ShardedOutput,
    marker: dict[str, Any],
    metadata: ModelMetadata,
    started_at: datetime,
    committed: int,
) -> ScoreManifest:
    """What this shard did, when it is not the one that publishes."""
    manifest = base_manifest(settings, output, [marker], metadata, started_at, committed)
    return manifest.model_copy(update={"rows_out": manifest.rows_in})


def publish(
    settings: ScoreSettings,
    output: ShardedOutput,
    piece_count: int,
    markers: list[dict[str, Any]],
    job: str,
    metadata: ModelMetadata,
    started_at: datetime,
) -> ScoreManifest:
    reference = metadata.reference_profile
    total = BatchCounts.empty(reference)
    for marker in markers:
        total.merge(batch_counts_from_json(json.dumps(marker["counts"])))
    where = {
        int(record["piece"]): (int(marker["shard"]), record)
        for marker in markers
        for record in marker["pieces"]
    }
    if sorted(where) != list(range(piece_count)):
        raise ScoringError("internal error: the shards' markers do not cover every piece")
    staging = Path(
        tempfile.mkdtemp(prefix=f".{output.location.file_name}.", dir=_staging_parent(output))
    )
    try:
        rows_out, parts = _assemble(settings, output, metadata, where, piece_count, staging)
        summary = base_manifest(settings, output, markers, metadata, started_at, len(markers))
        if rows_out != summary.rows_in:
            raise ScoringError(
                f"internal error: {summary.rows_in} rows scored but {rows_out} assembled"
            )
        report = drift_report(total, reference, settings.psi_threshold)
        manifest = summary.model_copy(
            update={
                "rows_out": rows_out,
                "finished_at": datetime.now(UTC),
                "drifted_features": report.drifted_features,
                "parts": parts,
            }
        )
        drift = report.model_dump(mode="json")
        output.write(OUTPUT_RECORD, {"job": job})
        _move_into_place(output, staging, parts, job)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    output.write_beside(DRIFT_SUFFIX, json.dumps(drift, indent=2))
    output.write_beside(MANIFEST_SUFFIX, manifest.model_dump_json(indent=2))
    write_summary(settings, output, manifest, drift)
    output.remove_work()
    return manifest


def _staging_parent(output: ShardedOutput) -> Path:
    parent = output.location.folder.staging_dir(output.work)
    parent.mkdir(parents=True, exist_ok=True)
    return parent


def _assemble(
    settings: ScoreSettings,
    output: ShardedOutput,
    metadata: ModelMetadata,
    where: dict[int, tuple[int, dict[str, Any]]],
    piece_count: int,
    staging: Path,
) -> tuple[int, list[str]]:
    """Write the output's files into ``staging`` from the committed chunks, in input order:
    (rows written, part file names; none for a table)."""
    labels = label_outputs(metadata)
    rows = 0
    parts: list[str] = []
    writer = None if output.dataset else TableWriter(staging / "table", output.format, labels)
    for piece in range(piece_count):
        shard, record = where[piece]
        # A dataset's part is opened at its piece's first row: a piece without rows (an
        # empty file, a row group of 0 rows) has no part, where a 0-byte file would not be
        # Parquet, and readers of the folder would fail on it.
        part = writer
        first = int(record["first_chunk"])
        for chunk in range(first, first + int(record["chunks"])):
            chunk_rows = read_chunk(chunk_file(output, shard, settings.shards, chunk))
            if part is None:
                if not chunk_rows.num_rows:
                    continue
                parts.append(part_name(piece, output.format))
                part = TableWriter(staging / parts[-1], output.format, labels)
            part.write_arrow(chunk_rows)
            rows += chunk_rows.num_rows
        if output.dataset and part is not None:
            part.close()
    if writer is not None:
        writer.close()
    return rows, parts


def _move_into_place(output: ShardedOutput, staging: Path, parts: list[str], job: str) -> None:
    """Publish the staged files: a table moved whole; a local dataset folder renamed into
    place in one step; a dataset in object storage uploaded part by part (the manifest,
    written after, marks it complete)."""
    if not output.dataset:
        output.location.folder.move_file(staging / "table", output.location.name)
        return
    folder = output.folder
    if isinstance(folder, LocalDestination):
        try:
            staging.replace(folder.folder)
        except OSError:
            # Published already by this job (another shard, or this one before a crash):
            # the same parts, made from the same chunks.
            if output.read(OUTPUT_RECORD) != {"job": job} or not folder.folder.is_dir():
                raise
        return
    for part in parts:
        folder.put_file(staging / part, part)


def write_summary(
    settings: ScoreSettings,
    output: ShardedOutput,
    manifest: ScoreManifest,
    drift: dict[str, Any] | None = None,
) -> None:
    if settings.drift_summary is None:
        return
    if drift is None:
        folder, name = output.beside(DRIFT_SUFFIX)
        text = folder.read_text(name)
        if text is None:
            return
        drift = json.loads(text)
    write_drift_summary(settings.drift_summary, drift, manifest.finished_at, output.shown)
