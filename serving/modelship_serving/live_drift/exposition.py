"""The window's drift as Prometheus metrics, and the window's counts read back from them.

Per feature: the PSI, the chance of a difference that large between two samples of the
reference distribution, and whether both pass the gate (as `score` decides drift); the
window's rows per reference bin, so that the operator can add up the counts of all a
revision's pods and judge them as one window (`counts_from_bin_rows`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from modelship_serving.drift import BatchCounts, DriftReport
from modelship_serving.profile import ReferenceProfile

PREFIX = "modelship_live_drift"
PSI = f"{PREFIX}_psi"
P_VALUE = f"{PREFIX}_p_value"
DRIFTED = f"{PREFIX}_drifted"
THRESHOLD = f"{PREFIX}_threshold"
WINDOW_ROWS = f"{PREFIX}_window_rows"
WINDOW_BIN_ROWS = f"{PREFIX}_window_bin_rows"
SAMPLED_REQUESTS = f"{PREFIX}_sampled_requests"
SKIPPED_REQUESTS = f"{PREFIX}_skipped_requests"
TRACE_FILES = f"{PREFIX}_trace_files"
# The bin label of missing values (no category is spelled so by the reference).
MISSING_BIN = "__missing__"


@dataclass(frozen=True)
class Snapshot:
    """What one scrape shows: the window's counts and their drift, and running totals."""

    counts: BatchCounts
    report: DriftReport
    sampled_requests: int
    skipped_requests: int
    trace_files: int


def metric_families(snapshot: Snapshot, model: str, revision: str) -> list[Metric]:
    """The metric families of ``snapshot``, labelled with the model and the revision."""
    base = {"model": model, "revision": revision}
    labels = [*base, "feature"]
    psi = GaugeMetricFamily(PSI, "Population stability index of the window.", labels=labels)
    p_value = GaugeMetricFamily(
        P_VALUE,
        "Chance of a difference this large between two samples of one distribution.",
        labels=labels,
    )
    drifted = GaugeMetricFamily(
        DRIFTED, "1 when psi passes the threshold and p_value is below 0.01.", labels=labels
    )
    for name, feature in snapshot.report.features.items():
        values = [*base.values(), name]
        psi.add_metric(values, feature.psi)
        p_value.add_metric(values, feature.p_value)
        drifted.add_metric(values, 1.0 if feature.drifted else 0.0)
    bins = GaugeMetricFamily(
        WINDOW_BIN_ROWS,
        "Rows of the window per reference bin (numeric: bin index; categorical: category;"
        " __missing__: missing values).",
        labels=[*labels, "bin"],
    )
    for name, numeric in snapshot.counts.numeric.items():
        for index, rows in enumerate(numeric.bin_counts):
            bins.add_metric([*base.values(), name, str(index)], rows)
        bins.add_metric([*base.values(), name, MISSING_BIN], numeric.missing)
    for name, categorical in snapshot.counts.categorical.items():
        for category, rows in categorical.category_counts.items():
            bins.add_metric([*base.values(), name, category], rows)
        bins.add_metric([*base.values(), name, MISSING_BIN], categorical.missing)
    threshold = GaugeMetricFamily(THRESHOLD, "PSI threshold.", labels=list(base))
    threshold.add_metric(list(base.values()), snapshot.report.psi_threshold)
    window_rows = GaugeMetricFamily(WINDOW_ROWS, "Sampled rows in the window.", labels=list(base))
    window_rows.add_metric(list(base.values()), snapshot.counts.rows)
    totals = [
        (SAMPLED_REQUESTS, "Sampled requests counted.", snapshot.sampled_requests),
        (
            SKIPPED_REQUESTS,
            "Sampled requests not counted: inputs unreadable, or dropped by a busy receiver.",
            snapshot.skipped_requests,
        ),
        (TRACE_FILES, "Trace files read and deleted (trace mode).", snapshot.trace_files),
    ]
    counters: list[Metric] = []
    for name, documentation, value in totals:
        counter = CounterMetricFamily(name, documentation, labels=list(base))
        counter.add_metric(list(base.values()), value)
        counters.append(counter)
    return [psi, p_value, drifted, bins, threshold, window_rows, *counters]


class SnapshotCollector(Collector):
    """Collects whatever snapshot ``current`` returns at scrape time."""

    def __init__(self, current: Callable[[], Snapshot | None], model: str, revision: str) -> None:
        self._current = current
        self._model = model
        self._revision = revision

    def collect(self) -> Iterator[Metric]:
        snapshot = self._current()
        if snapshot is not None:
            yield from metric_families(snapshot, self._model, self._revision)


def counts_from_bin_rows(
    reference: ReferenceProfile, bin_rows: Mapping[tuple[str, str], float]
) -> BatchCounts:
    """Window counts rebuilt from `modelship_live_drift_window_bin_rows` samples, keyed by
    (feature, bin) and summed over a revision's pods; `judge_window` judges the result.
    Means are left out: the metrics carry no sums."""
    counts = BatchCounts.empty(reference)
    for name, numeric in counts.numeric.items():
        numeric.bin_counts = [
            int(bin_rows.get((name, str(index)), 0)) for index in range(len(numeric.bin_counts))
        ]
        numeric.missing = int(bin_rows.get((name, MISSING_BIN), 0))
    for name, categorical in counts.categorical.items():
        categorical.category_counts = {
            category: int(bin_rows.get((name, category), 0))
            for category in categorical.category_counts
        }
        categorical.missing = int(bin_rows.get((name, MISSING_BIN), 0))
    counts.rows = max(
        [sum(n.bin_counts) + n.missing for n in counts.numeric.values()]
        + [sum(c.category_counts.values()) + c.missing for c in counts.categorical.values()],
        default=0,
    )
    return counts
