"""A scoring job over a dataset, or shared among the pods of an Indexed Job.

The input's pieces (see modelship_serving.scoring.dataset) are dealt to ``shards`` shards
by position; shard ``i`` (a pod's ``JOB_COMPLETION_INDEX``) scores its pieces and commits
its chunks exactly as a single-table job does, into its own folder of the job's work
directory ``.OUT.partial/shard-IIIII-of-NNNNN/`` (mirrored beside an s3/gs/az output). Once
all its chunks are committed it writes its commit marker ``shard-IIIII-of-NNNNN.json``
(which pieces became which chunks, rows, drift counts). Then it reads every shard's marker;
the shard that finds all of them publishes:

- a table output ``OUT``: every piece's chunks in input order, moved into place whole, then
  ``OUT.drift.json`` and, last, ``OUT.manifest.json`` (as for one table);
- a dataset output ``OUT/`` (a uri ending in ``/``): one part file ``part-KKKKK.<fmt>`` per
  piece with rows (none for an empty file or row group); on a local disk they are written
  into a hidden folder renamed to ``OUT`` in one step, in object storage uploaded one by
  one; then ``OUT/_drift.json`` and, last, ``OUT/_manifest.json``, which lists the parts.
  **A reader knows a dataset output is complete when ``_manifest.json`` is there** (the
  ``_`` keeps it out of Arrow's and Spark's dataset discovery).

Publishing is idempotent, so it needs no lock: every marker names the job (a digest of the
input's files, the model and the settings), what is published is made from committed
chunks only and is the same bytes whoever makes it, and the record of it (``output.json``)
is written before anything is published. Two shards that finish together both publish the
same files; a shard (or its retry) that finds the manifest of its own job ends as done; an
output that is not this job's is never touched. A retried shard resumes from its own
committed chunks and never re-scores another shard's.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelship_serving.drift import BatchCounts, batch_counts_from_json
from modelship_serving.errors import ScoringError
from modelship_serving.fetch.uri import redact_uri
from modelship_serving.metadata import ModelMetadata
from modelship_serving.scoring.checks import check_input, load_model, read_input
from modelship_serving.scoring.dataset import (
    InputDataset,
    Piece,
    check_shard_index,
    is_dataset_uri,
    list_input,
    row_group_pieces,
    shard_pieces,
)
from modelship_serving.scoring.destination import (
    Destination,
    locate,
)
from modelship_serving.scoring.formats import table_format
from modelship_serving.scoring.output import (
    is_output_column,
)
from modelship_serving.scoring.settings import ScoreManifest, ScoreSettings
from modelship_serving.scoring.shard_output import (
    OUTPUT_RECORD,
    ShardedOutput,
    shard_folder,
    sharded_output,
)
from modelship_serving.scoring.shard_publish import publish, shard_manifest, write_summary

if TYPE_CHECKING:
    from modelship_serving.scoring.job import ProgressCallback, ScorerFactory
    from modelship_serving.scoring.partial import PartialResults

logger = logging.getLogger(__name__)

INPUT_FILE_COLUMN = "input_file"


def is_sharded_job(settings: ScoreSettings) -> bool:
    """Whether the job is for this module: a dataset in or out, or more than one shard."""
    return (
        settings.shards > 1
        or settings.output_uri.endswith("/")
        or is_dataset_uri(settings.input_uri)
    )


def _input(settings: ScoreSettings, work: Path) -> tuple[InputDataset, list[Piece]]:
    """The input and its pieces: files, or a single Parquet file's row groups when it is
    shared among shards."""
    if is_dataset_uri(settings.input_uri):
        dataset = list_input(settings.input_uri, settings.input_format)
        return dataset, list(dataset.files)
    source = locate(settings.input_uri)
    fmt = settings.input_format or table_format(Path(source.file_name))
    path = _local_copy(source.folder, source.name, work / f"input-{source.file_name}")
    whole = Piece(source.name, source.folder.content_identity(source.name, path))
    dataset = InputDataset(source.folder, fmt, (whole,), is_dataset=False)
    if fmt != "parquet" or settings.shards == 1:
        return dataset, [whole]
    import pyarrow.parquet as pq

    metadata = pq.ParquetFile(path).metadata
    counts = [metadata.row_group(group).num_rows for group in range(metadata.num_row_groups)]
    return dataset, row_group_pieces(whole, counts)


def _local_copy(folder: Destination, name: str, copy: Path) -> Path:
    copy.parent.mkdir(parents=True, exist_ok=True)
    try:
        return folder.local_file(name, copy)
    except FileNotFoundError as error:
        raise ScoringError(f"input {folder.show(name)} does not exist or is not a file") from error


def _job_identity(
    settings: ScoreSettings,
    dataset: InputDataset,
    pieces: list[Piece],
    metadata: ModelMetadata,
    output: ShardedOutput,
) -> str:
    # The single table's name is left out (a presigned URL's query changes); its identity
    # is its content. A dataset's names are plain object names.
    state = {
        "input": redact_uri(settings.input_uri),
        "format": dataset.format,
        "pieces": [
            [piece.file if dataset.is_dataset else "", piece.identity, piece.row_groups]
            for piece in pieces
        ],
        "model_sha256": metadata.model_sha256,
        "rows_per_chunk": settings.rows_per_chunk,
        "key_column": settings.key_column,
        "shards": settings.shards,
        "output": output.shown,
        "output_format": output.format,
        "chunks": "arrow",  # a job started by a version that committed Parquet starts over
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()


def run_sharded_scoring(
    settings: ScoreSettings,
    scratch: Path,
    scorer_factory: ScorerFactory,
    progress: ProgressCallback | None = None,
) -> ScoreManifest:
    """Score this shard, commit it, and publish when every shard is committed; see the
    module docstring. Returns the published manifest, or, while other shards are still
    to commit, a manifest of this shard with ``shards_committed < shards``."""
    started_at = datetime.now(UTC)
    # Before the published shortcut below, which would call a shard that is none done.
    check_shard_index(settings.shard_index, settings.shards)
    output = sharded_output(settings, scratch)
    metadata, model_file = load_model(settings.model_repo, settings.model)
    dataset, pieces = _input(settings, output.work)
    job = _job_identity(settings, dataset, pieces, metadata, output)
    published = output.published_manifest()
    if published is not None:
        if published.job != job:
            raise ScoringError(
                f"output {output.shown} already exists; remove it or choose another output"
            )
        logger.info("%s was published by this job already", output.shown)
        write_summary(settings, output, published)
        return published
    recorded = output.read(OUTPUT_RECORD)
    if output.is_visible() and (recorded is None or recorded.get("job") != job):
        raise ScoringError(
            f"output {output.shown} already exists and is not this job's; remove it or choose"
            " another output"
        )
    marker_name = f"{shard_folder(settings.shard_index, settings.shards)}.json"
    marker = output.read(marker_name)
    if marker is None or marker.get("job") != job:
        marker = _score_shard(
            settings, output, dataset, pieces, job, metadata, model_file, scorer_factory, progress
        )
        output.write(marker_name, marker)
    markers = [
        output.read(f"{shard_folder(index, settings.shards)}.json")
        for index in range(settings.shards)
    ]
    committed = [m for m in markers if m is not None and m.get("job") == job]
    if len(committed) < settings.shards:
        logger.info(
            "shard %d committed; %d of %d shards committed, the last one publishes",
            settings.shard_index,
            len(committed),
            settings.shards,
        )
        return shard_manifest(settings, output, marker, metadata, started_at, len(committed))
    try:
        return publish(settings, output, len(pieces), committed, job, metadata, started_at)
    except Exception:
        # Another shard that saw every marker too may have published and cleaned up
        # under this one: its manifest makes this shard done as well.
        published = output.published_manifest()
        if published is not None and published.job == job:
            return published
        raise


def _forget_uncommitted(output: ShardedOutput, partial: PartialResults) -> None:
    """Remove this shard's work when its input was refused before any chunk was committed,
    so a refused run leaves nothing beside the output; committed chunks stay for a retry."""
    if partial.is_committed(0):
        return
    partial.remove()
    with contextlib.suppress(OSError):
        output.work.rmdir()  # only when no other shard keeps work there


def _score_shard(
    settings: ScoreSettings,
    output: ShardedOutput,
    dataset: InputDataset,
    pieces: list[Piece],
    job: str,
    metadata: ModelMetadata,
    model_file: Path,
    scorer_factory: ScorerFactory,
    progress: ProgressCallback | None,
) -> dict[str, Any]:
    """Score and commit this shard's pieces; its commit marker."""
    from modelship_serving.scoring.job import numbered, score_chunks

    mine = shard_pieces(pieces, settings.shards, settings.shard_index)
    partial = output.shard(settings.shard_index, settings.shards)
    partial.begin({"job": job, "shard": settings.shard_index, "shards": settings.shards})
    paths: dict[str, Path] = {}
    try:
        for position in mine:  # every file checked before anything is scored
            name = pieces[position].file
            _check_passthrough(
                _passthrough(dataset, pieces[position]), settings.key_column, metadata, name
            )
            if name not in paths:
                paths[name] = _local_copy(
                    dataset.folder, dataset.name_in_folder(name), partial.work / "input" / name
                )
                check_input(
                    paths[name],
                    dataset.show(name),
                    dataset.format,
                    metadata,
                    settings.key_column,
                    settings.rows_per_chunk,
                    pieces[position].partition,
                    rows_required=not dataset.is_dataset,
                )
    except ScoringError:
        _forget_uncommitted(output, partial)
        raise
    records: list[dict[str, Any]] = []
    rows = chunks = resumed = 0
    description = "nothing (no piece in this shard)"
    if mine:
        scorer = scorer_factory(settings, metadata, model_file)
        description = scorer.description
        try:
            for position in mine:
                piece = pieces[position]
                batches = read_input(
                    paths[piece.file],
                    settings.rows_per_chunk,
                    metadata,
                    settings.key_column,
                    dataset.format,
                    piece.row_groups,
                    piece.partition,
                )
                passthrough = _passthrough(dataset, piece)
                piece_rows, piece_chunks, piece_resumed = score_chunks(
                    settings,
                    numbered(batches, piece.first_row),
                    dataset.show(piece.file),
                    metadata,
                    scorer,
                    partial,
                    None,
                    progress,
                    first_chunk=chunks,
                    passthrough=passthrough,
                )
                records.append(
                    {
                        "piece": position,
                        "first_chunk": chunks,
                        "chunks": piece_chunks,
                        "rows": piece_rows,
                    }
                )
                rows, chunks = rows + piece_rows, chunks + piece_chunks
                resumed += piece_resumed
        finally:
            scorer.close()
    counts = BatchCounts.empty(metadata.reference_profile)
    for index in range(chunks):
        counts.merge(batch_counts_from_json(partial.counts(index).read_text()))
    shutil.rmtree(partial.work / "input", ignore_errors=True)
    return {
        "job": job,
        "shard": settings.shard_index,
        "pieces": records,
        "rows": rows,
        "chunks": chunks,
        "resumed": resumed,
        "scorer": description,
        "counts": json.loads(counts.model_dump_json()),
    }


def _passthrough(dataset: InputDataset, piece: Piece) -> dict[str, str]:
    """The columns a dataset's rows carry into the output: their file and partition keys."""
    return {INPUT_FILE_COLUMN: piece.file, **piece.partition} if dataset.is_dataset else {}


def _check_passthrough(
    columns: dict[str, str], key: str | None, metadata: ModelMetadata, file: str
) -> None:
    """ScoringError when a partition key would take the name of an output column, or the
    --key column the name of a column a dataset's rows carry (their file, a partition)."""
    for name in columns:
        if name == key:
            carried = "file" if name == INPUT_FILE_COLUMN else "partition key"
            raise ScoringError(
                f"input file {file}: the --key column {key!r} has the name of the output"
                f" column that carries each row's {carried}; give another --key column"
                " (that one is carried already). Nothing was scored."
            )
        if is_output_column(name, metadata):
            raise ScoringError(
                f"input file {file}: partition key {name!r} is also an output column; rename"
                " the partition folder. Nothing was scored."
            )
