"""Batch jobs' last runs: the newest failed Job becomes the last failure, and stays recorded.

Each case gives a ModelDeployment's batch CronJob, the Jobs it started and the
status recorded before, and checks the whole batch status entry, which Jobs'
pods gather must read, and the Warning a new failure posts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from modelship.api.model_deployment import BatchJobStatus, ModelDeployment
from modelship.core.objects import Event
from modelship.reconcile.batch import (
    batch_status,
    completed_indexes,
    exit_of,
    exits_wanted,
    failure_events,
    shards_of_latest_run,
)
from support.reconcile_states import NIGHTLY, md_body

MD = ModelDeployment.model_validate(md_body(batch=[NIGHTLY]))
CRON_JOB = {
    "apiVersion": "batch/v1",
    "kind": "CronJob",
    "metadata": {"name": "wine-nightly", "namespace": "ml"},
    "status": {
        "lastScheduleTime": "2026-01-03T02:00:00Z",
        "lastSuccessfulTime": "2026-01-02T02:04:00Z",
    },
}


def run(name: str, failed_at: str | None = None, **condition: str) -> dict[str, Any]:
    """A Job of the nightly CronJob; failed at `failed_at` when given."""
    status: dict[str, Any] = {}
    if failed_at is not None:
        status["conditions"] = [
            {"type": "Failed", "status": "True", "lastTransitionTime": failed_at, **condition}
        ]
    owner = {"kind": "CronJob", "name": "wine-nightly", "uid": "c1", "controller": True}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "ml", "ownerReferences": [owner]},
        "status": status,
    }


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


BACKOFF = {
    "reason": "BackoffLimitExceeded",
    "message": "Job has reached the specified backoff limit",
}
RECORDED = BatchJobStatus(
    name="nightly",
    last_failure_time=at("2026-01-01T02:10:00Z"),
    last_failure_message="Job wine-nightly-1: DeadlineExceeded",
)

CASES = {
    "no runs, nothing recorded": ([], [], {}, None, None),
    "a succeeded run is no failure": ([run("wine-nightly-2")], [], {}, None, None),
    "a failed run, with how score ended": (
        [run("wine-nightly-2", "2026-01-02T02:10:00Z", **BACKOFF)],
        [],
        {"wine-nightly-2": "score ended with OOMKilled (exit code 137)"},
        "2026-01-02T02:10:00Z",
        "Job wine-nightly-2: BackoffLimitExceeded: Job has reached the specified backoff limit; "
        "score ended with OOMKilled (exit code 137)",
    ),
    "the newest of two failed runs": (
        [
            run("wine-nightly-2", "2026-01-02T02:10:00Z", reason="DeadlineExceeded"),
            run("wine-nightly-3", "2026-01-03T02:10:00Z", reason="DeadlineExceeded"),
        ],
        [],
        {},
        "2026-01-03T02:10:00Z",
        "Job wine-nightly-3: DeadlineExceeded",
    ),
    "a recorded failure stays once its Job is gone": (
        [run("wine-nightly-2")],
        [RECORDED],
        {},
        "2026-01-01T02:10:00Z",
        "Job wine-nightly-1: DeadlineExceeded",
    ),
    "a failed run no newer than the recorded one changes nothing": (
        [run("wine-nightly-1", "2026-01-01T02:10:00Z", **BACKOFF)],
        [RECORDED],
        {},
        "2026-01-01T02:10:00Z",
        "Job wine-nightly-1: DeadlineExceeded",
    ),
    "a Job of another CronJob is not this batch job's": (
        [{**run("x", "2026-01-05T00:00:00Z"), "metadata": {"name": "x", "ownerReferences": []}}],
        [],
        {},
        None,
        None,
    ),
}


@pytest.mark.parametrize(
    ("runs", "previous", "exits", "failed_at", "message"), CASES.values(), ids=CASES.keys()
)
def test_batch_status(
    runs: list[dict[str, Any]],
    previous: list[BatchJobStatus],
    exits: dict[str, str],
    failed_at: str | None,
    message: str | None,
) -> None:
    statuses = batch_status(MD, [CRON_JOB], runs, previous, exits)
    assert statuses == [
        BatchJobStatus(
            name="nightly",
            last_schedule_time=at("2026-01-03T02:00:00Z"),
            last_successful_time=at("2026-01-02T02:04:00Z"),
            last_failure_time=at(failed_at) if failed_at else None,
            last_failure_message=message,
        )
    ]
    new = failed_at is not None and (not previous or at(failed_at) > RECORDED.last_failure_time)
    assert exits_wanted(MD, previous, runs) == ([runs[-1]["metadata"]["name"]] if new else [])
    assert failure_events(previous, statuses) == (
        [Event("Warning", "BatchJobFailed", f"Batch job nightly failed: {message}")] if new else []
    )


def test_a_long_failure_message_is_cut() -> None:
    long = run("wine-nightly-2", "2026-01-02T02:10:00Z", reason="Failed", message="x" * 1000)
    (status,) = batch_status(MD, [CRON_JOB], [long], [], {})
    assert status.last_failure_message is not None
    assert len(status.last_failure_message) == 256
    assert status.last_failure_message.endswith("x…")


POD_CASES = {
    "out of memory": (
        {"name": "score", "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}},
        "score ended with OOMKilled (exit code 137)",
    ),
    "an error, its message left out": (
        {"name": "score", "state": {"terminated": {"exitCode": 1, "message": "row 7: secret"}}},
        "score ended with Error (exit code 1)",
    ),
    "a success says nothing": (
        {"name": "score", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        None,
    ),
    "another container says nothing": (
        {"name": "fetch", "state": {"terminated": {"exitCode": 1}}},
        None,
    ),
}


@pytest.mark.parametrize(("container", "said"), POD_CASES.values(), ids=POD_CASES.keys())
def test_exit_of_the_score_container(container: dict[str, Any], said: str | None) -> None:
    assert exit_of({"status": {"containerStatuses": [container]}}) == said


@pytest.mark.parametrize(
    ("text", "count"),
    [(None, 0), ("", 0), ("0", 1), ("1,3-5", 4), ("0-99", 100), ("2,x,4-", 1)],
)
def test_completed_indexes_are_counted_from_the_jobs_ranges(text: str | None, count: int) -> None:
    assert completed_indexes(text) == count


def indexed_run(name: str, created: str, completed: str | None, shards: int = 4) -> Any:
    job = run(name)
    job["metadata"]["creationTimestamp"] = created
    job["spec"] = {"completionMode": "Indexed", "completions": shards, "parallelism": shards}
    job["status"] = {"completedIndexes": completed, "succeeded": completed_indexes(completed)}
    return job


def test_status_shows_the_shards_done_of_the_latest_run() -> None:
    sharded = ModelDeployment.model_validate(md_body(batch=[{**NIGHTLY, "parallelism": 4}]))
    runs = [
        indexed_run("wine-nightly-2", "2026-01-02T02:00:00Z", "0-3"),
        indexed_run("wine-nightly-3", "2026-01-03T02:00:00Z", "0,2"),
    ]
    [status] = batch_status(sharded, [CRON_JOB], runs, [], {})
    assert (status.shards_done, status.shards) == (2, 4)
    assert shards_of_latest_run(runs[:1]) == (4, 4)
    assert shards_of_latest_run([run("wine-nightly-4")]) is None  # one pod: no shards
    assert shards_of_latest_run([]) is None
