"""What a scoring job is asked to do, and what it records when done."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from modelship_serving.drift import DEFAULT_PSI_THRESHOLD
from modelship_serving.scoring.formats import TableFormat

DEFAULT_ROWS_PER_CHUNK = 50_000
MAX_SHARDS = 1000


class ScoreSettings(BaseModel):
    """What to score, with what, and where to write it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_repo: Path = Field(description="Model repository written by `modelship package`.")
    model: str = Field(description="Model name inside the repository.")
    input_uri: str = Field(
        description="Input table (.csv/.parquet/.jsonl): path, file://, s3://, gs://, az:// or"
        " http(s)://; or a dataset: a local folder, or an s3/gs/az prefix, of files"
        " of one format, hive partitions included."
    )
    input_format: TableFormat | None = Field(
        default=None, description="csv, parquet or jsonl; absent: from the input's extension."
    )
    output_uri: str = Field(
        description="Output table: path, file://, s3://, gs:// or az://; its extension picks"
        " the format. Ending in '/': a dataset, one part file per input piece (see"
        " output_format)."
    )
    output_format: TableFormat = Field(
        default="parquet", description="Format of a dataset output's part files."
    )
    shards: int = Field(
        default=1,
        ge=1,
        le=MAX_SHARDS,
        description="How many shards (pods of an Indexed Job) share the input.",
    )
    shard_index: int = Field(
        default=0, ge=0, description="Which shard this is (the Job's completion index)."
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
        " $TMPDIR/modelship-score/<hash of the job> for an s3/gs/az output (scratch space"
        " only: its committed chunks are kept under a hidden prefix beside the output).",
    )
    psi_threshold: float = Field(
        default=DEFAULT_PSI_THRESHOLD,
        gt=0,
        description="PSI above which a feature counts as drifted.",
    )
    drift_summary: Path | None = Field(
        default=None,
        description="Where to write a small drift summary once the job is done (a batch"
        " pod's terminationMessagePath, where the operator reads it).",
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
    job: str | None = Field(
        default=None,
        description="Identity of the job (input files, model, settings) of a dataset or"
        " sharded run: a shard that finds it published by another ends as done.",
    )
    shards: int = Field(default=1, description="Shards that scored the input.")
    shards_committed: int = Field(
        default=1,
        description="Shards committed when this was written: all of them once published.",
    )
    parts: list[str] = Field(
        default_factory=list, description="A dataset output's part files, in input order."
    )
