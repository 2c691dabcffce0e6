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
    ResourceRequirements,
)


class DataFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"
    JSONL = "jsonl"


TABLE_EXTENSIONS = (".csv", ".parquet", ".jsonl")
_ENDS_AS_TABLE = " || ".join(f"self.uri.endsWith('{ext}')" for ext in TABLE_EXTENSIONS)
INPUT_FORMAT_UNKNOWN = (
    "input.uri does not end in .csv, .parquet or .jsonl: name its format in input.format"
)
OUTPUT_FORMAT_UNKNOWN = "output.uri must end in .csv, .parquet or .jsonl (its format)"
OUTPUT_NOT_PER_RUN = (
    "output.uri must contain {date} or {run}: a scheduled job writes a new output each "
    "run, and an existing output is never overwritten"
)


def _is_table(uri: str) -> bool:
    return uri.endswith(TABLE_EXTENSIONS)


class BatchInput(ApiModel):
    """The table a batch job scores."""

    rules = (
        Rule(
            rule=f"has(self.format) || {_ENDS_AS_TABLE}",
            message=INPUT_FORMAT_UNKNOWN,
            holds=lambda i: i.format is not None or _is_table(i.uri),
        ),
    )

    uri: ModelUri = Field(
        description=(
            "The input table (one object or file); {date} and {run} name the run. "
            "At most 2048 characters."
        ),
    )
    format: DataFormat | None = Field(
        default=None, description="csv, parquet or jsonl; taken from the extension when absent."
    )


class BatchOutput(ApiModel):
    """Where the predictions go; they appear only once complete."""

    rules = (
        Rule(rule=_ENDS_AS_TABLE, message=OUTPUT_FORMAT_UNKNOWN, holds=lambda o: _is_table(o.uri)),
        Rule(
            rule="self.uri.contains('{date}') || self.uri.contains('{run}')",
            message=OUTPUT_NOT_PER_RUN,
            holds=lambda o: "{date}" in o.uri or "{run}" in o.uri,
        ),
    )

    uri: OutputUri = Field(
        description="The output table; its extension (.csv, .parquet, .jsonl) picks the format."
        " {date} (the scheduled day) and {run} (the Job's name) give each run its own output."
        " At most 2048 characters.",
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
    suspend: bool = Field(default=False, description="Pause the schedule.")
    active_deadline_seconds: DeadlineSeconds = Field(
        default=21600,
        description="A run that takes longer is stopped and failed.",
    )
    resources: ResourceRequirements | None = Field(
        default=None, description="CPU and memory of the scoring container."
    )
