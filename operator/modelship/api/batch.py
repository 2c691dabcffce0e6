"""Scheduled batch scoring jobs of a ModelDeployment."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from modelship.api.base import (
    DNS_LABEL_PATTERN,
    ApiModel,
    Cron,
    DeadlineSeconds,
    ModelUri,
    OutputUri,
    PositiveInt32,
)
from modelship.api.cel import Rule
from modelship.api.common import (
    Resources,
    resources_field,
)


class DataFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"
    JSONL = "jsonl"


TABLE_EXTENSIONS = (".csv", ".parquet", ".jsonl")
_ENDS_AS_TABLE = " || ".join(f"self.uri.endsWith('{ext}')" for ext in TABLE_EXTENSIONS)
_IS_DATASET = "self.uri.endsWith('/')"
INPUT_FORMAT_UNKNOWN = (
    "input.uri does not end in .csv, .parquet, .jsonl or '/' (a dataset): name its format in"
    " input.format"
)
OUTPUT_FORMAT_UNKNOWN = (
    "output.uri must end in .csv, .parquet or .jsonl (its format), or in '/' (a dataset)"
)
OUTPUT_FORMAT_OF_A_TABLE = (
    "output.format is for a dataset output (a uri ending in '/'); a table's format is its extension"
)
# Pods of one run: each fetches the model and lists the input; beyond this a run is better
# split by the data's own partitions into several batch jobs.
MAX_BATCH_PARALLELISM = 100
OUTPUT_NOT_PER_RUN = (
    "output.uri must contain {date} or {run}: a scheduled job writes a new output each "
    "run, and an existing output is never overwritten"
)


def _is_table(uri: str) -> bool:
    return uri.endswith(TABLE_EXTENSIONS)


def _is_dataset(uri: str) -> bool:
    return uri.endswith("/")


class BatchInput(ApiModel):
    """The table a batch job scores."""

    rules = (
        Rule(
            rule=f"has(self.format) || {_ENDS_AS_TABLE} || {_IS_DATASET}",
            message=INPUT_FORMAT_UNKNOWN,
            holds=lambda i: i.format is not None or _is_table(i.uri) or _is_dataset(i.uri),
        ),
    )

    uri: ModelUri = Field(
        description=(
            "The input table (one object or file), or a dataset: a folder or prefix ending in"
            " '/' of files of one format, hive partitions (key=value/) included, whose keys are"
            " carried into the output rows; {date} and {run} name the run. "
            "At most 2048 characters."
        ),
    )
    format: DataFormat | None = Field(
        default=None, description="csv, parquet or jsonl; taken from the extension when absent."
    )


class BatchOutput(ApiModel):
    """Where the predictions go; they appear only once complete."""

    rules = (
        Rule(
            rule=f"{_ENDS_AS_TABLE} || {_IS_DATASET}",
            message=OUTPUT_FORMAT_UNKNOWN,
            holds=lambda o: _is_table(o.uri) or _is_dataset(o.uri),
        ),
        Rule(
            rule=f"!has(self.format) || {_IS_DATASET}",
            message=OUTPUT_FORMAT_OF_A_TABLE,
            holds=lambda o: o.format is None or _is_dataset(o.uri),
        ),
        Rule(
            rule="self.uri.contains('{date}') || self.uri.contains('{run}')",
            message=OUTPUT_NOT_PER_RUN,
            holds=lambda o: "{date}" in o.uri or "{run}" in o.uri,
        ),
    )

    uri: OutputUri = Field(
        description="The output table; its extension (.csv, .parquet, .jsonl) picks the format."
        " Ending in '/': a dataset, one part file per input file, complete once its"
        " _manifest.json is there. {date} (the scheduled day) and {run} (the Job's name) give"
        " each run its own output. At most 2048 characters.",
    )
    format: DataFormat | None = Field(
        default=None,
        description="Format of a dataset output's part files (a uri ending in '/');"
        " parquet when absent.",
    )


class BatchJob(ApiModel):
    """A scheduled scoring job over a table, run as a CronJob."""

    # Shorter than a DNS label: the CronJob is named after the deployment and the job.
    name: str = Field(
        pattern=DNS_LABEL_PATTERN,
        min_length=1,
        max_length=40,
        description="Job name, unique in this deployment.",
    )
    schedule: Cron = Field(description="Cron schedule, e.g. '0 2 * * *'.")
    input: BatchInput = Field(description="The table to score.")
    output: BatchOutput = Field(description="Where predictions are written.")
    batch_size: PositiveInt32 = Field(default=4096, description="Rows per inference call.")
    concurrency: int = Field(
        default=1,
        ge=1,
        le=64,
        description="onnxruntime threads scoring in the job's pod; match the CPU it requests.",
    )
    parallelism: int = Field(
        default=1,
        ge=1,
        le=MAX_BATCH_PARALLELISM,
        description="Pods that share each run (an Indexed Job): each scores every N-th input"
        " file (or row group of a single Parquet file) and commits it; the last to commit"
        " publishes the output. A failed pod is retried alone. At most 100; more pods than"
        " files (or row groups) leave some idle.",
    )
    gpu: bool = Field(
        default=False,
        description="Request the GPU the deployment serves on (serving.gpu: the same count,"
        " MIG profile, product and taint toleration) for each scoring pod; in-process scoring"
        " then runs on it when the image's onnxruntime has CUDA.",
    )
    suspend: bool = Field(default=False, description="Pause the schedule.")
    active_deadline_seconds: DeadlineSeconds = Field(
        default=21600,
        description="A run that takes longer is stopped and failed.",
    )
    resources: Resources = resources_field("the scoring container")


BATCH_GPU_NEEDS_SERVING_GPU = (
    "batch[].gpu requests the GPU the deployment serves on: set serving.gpu.count"
)
# A spec-level rule (it reads serving and batch): batch has at most 32 entries.
BATCH_GPU_RULE = Rule(
    rule="!has(self.batch) || !self.batch.exists(b, has(b.gpu) && b.gpu) || "
    "(has(self.serving) && has(self.serving.gpu) && has(self.serving.gpu.count))",
    message=BATCH_GPU_NEEDS_SERVING_GPU,
    holds=lambda spec: (
        not any(job.gpu for job in spec.batch)
        or (spec.serving.gpu is not None and spec.serving.gpu.count is not None)
    ),
)
