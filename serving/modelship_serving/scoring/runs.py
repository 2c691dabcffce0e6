"""Table uris that name the run of a scheduled batch job: ``{run}`` and ``{date}``.

A CronJob runs the same command line every time, so a fixed output would already
exist from the second run on. Its uris may name the run instead: ``{run}`` is the
Job's name, the same for every pod retry of one scheduled run (so a retry resumes)
and different across runs; ``{date}`` is the scheduled day (UTC, YYYY-MM-DD), which
the CronJob controller writes into the Job's name as ``<cronjob>-<minutes since the
epoch>``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from modelship_serving.errors import ScoringError
from modelship_serving.fetch.uri import redact_uri

RUN = "{run}"
DATE = "{date}"


def scheduled_time(run: str) -> datetime | None:
    """When the CronJob scheduled the Job named ``run``; None for a Job it did not name."""
    prefix, _, minutes = run.rpartition("-")
    if not prefix or not minutes.isdigit():
        return None
    return datetime.fromtimestamp(int(minutes) * 60, UTC)


def expand_run(uri: str, run: str | None) -> str:
    """``uri`` with ``{run}`` and ``{date}`` replaced for the run named ``run``."""
    if RUN not in uri and DATE not in uri:
        return uri
    if not run:
        raise ScoringError(
            f"{redact_uri(uri)} names the run ({RUN} or {DATE}) but no run was given: pass"
            " --run (the batch CronJob sets it to its Job's name)"
        )
    expanded = uri.replace(RUN, run)
    if DATE in expanded:
        when = scheduled_time(run)
        if when is None:
            raise ScoringError(
                f"{redact_uri(uri)} names the scheduled day ({DATE}), but {run!r} is not the"
                f" name of a Job a CronJob scheduled (<cronjob>-<minutes>); use {RUN}"
            )
        expanded = expanded.replace(DATE, when.strftime("%Y-%m-%d"))
    return expanded
