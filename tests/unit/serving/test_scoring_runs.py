"""Scheduled runs name their tables: `{run}` becomes the Job's name and `{date}` the day the
CronJob scheduled it (decoded from that name); a uri without placeholders is left alone, and
a placeholder that cannot be filled stops `score` with a message saying why."""

from __future__ import annotations

import pytest
from modelship_serving.errors import ScoringError
from modelship_serving.scoring.runs import expand_run

RUN = "fraud-nightly-29013120"  # scheduled for 2025-03-01 00:00 UTC


@pytest.mark.parametrize(
    ("uri", "run", "expected"),
    [
        ("s3://b/scores.parquet", None, "s3://b/scores.parquet"),
        ("s3://b/scores/{date}.parquet", RUN, "s3://b/scores/2025-03-01.parquet"),
        ("/mnt/batch-output/{run}.csv", RUN, f"/mnt/batch-output/{RUN}.csv"),
        ("gs://b/{date}/{run}.jsonl", RUN, f"gs://b/2025-03-01/{RUN}.jsonl"),
        ("s3://b/{run}.csv", "manual-backfill", "s3://b/manual-backfill.csv"),
    ],
)
def test_placeholders_are_filled_from_the_run(uri: str, run: str | None, expected: str) -> None:
    assert expand_run(uri, run) == expected


@pytest.mark.parametrize(
    ("uri", "run", "message"),
    [
        ("s3://b/{date}.csv", None, "no run was given"),
        ("s3://b/{run}.csv", "", "no run was given"),
        ("s3://b/{date}.csv", "manual-backfill", "not the name of a Job a CronJob scheduled"),
    ],
)
def test_placeholders_that_cannot_be_filled_are_refused(
    uri: str, run: str | None, message: str
) -> None:
    with pytest.raises(ScoringError, match=message):
        expand_run(uri, run)
