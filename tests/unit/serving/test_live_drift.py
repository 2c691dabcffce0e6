"""Drift on live traffic, the pure parts: reading Triton's trace files, counting traced
inputs into the reference bins, the rolling window, picking finished files, and the
window rebuilt from the metrics of several pods.

Proves: input tensors are read from valid files and from files Triton wrote with
unescaped strings, and a tensor whose values cannot be told apart drops its request
rather than miscounting; outputs are ignored; rows are counted under their column names
exactly as `score` counts a batch; counts leave the window when it has passed; the
newest file is left alone while Triton may still write it; a file is deleted even when
it cannot be read; a window too small for the significance test flags nothing; the bin
counts of two pods' metrics, summed, give the drift of both windows.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest
from modelship_serving.drift import BatchCounts, drift_report
from modelship_serving.live_drift.counting import count_requests
from modelship_serving.live_drift.exposition import (
    Snapshot,
    SnapshotCollector,
    counts_from_bin_rows,
)
from modelship_serving.live_drift.judgement import judge_window
from modelship_serving.live_drift.traces import TracedRequest, parse_trace_file
from modelship_serving.live_drift.watch import DriftWatch, finished_trace_files
from modelship_serving.live_drift.window import RollingCounts
from modelship_serving.metadata import ModelMetadata
from prometheus_client import CollectorRegistry
from support.live_drift import package_churn, traffic

INPUT = "TENSOR_QUEUE_INPUT"


def record(request_id: int, name: str, data: str, shape: str, dtype: str, activity: str) -> str:
    return (
        f'{{"id":{request_id},"activity":"{activity}","tensor":{{"name":"{name}",'
        f'"data":"{data}","shape":"{shape}","dtype":"{dtype}"}}}}'
    )


def trace_file(*records: str) -> str:
    return "[" + ",".join(records) + "]"


def churn_request(request_id: int, ages: str, cities: str, rows: int = 2) -> list[str]:
    """The four input records of one churn request, and an output record."""
    shape, incomes, plans = f"{rows},1", ",".join(["50000"] * rows), ",".join(['\\"pro\\"'] * rows)
    return [
        record(request_id, "age", ages, shape, "FP32", INPUT),
        record(request_id, "income", incomes, shape, "FP32", INPUT),
        record(request_id, "city", cities, shape, "BYTES", INPUT),
        record(request_id, "plan", plans, shape, "BYTES", INPUT),
        record(request_id, "label", '\\"yes\\",\\"no\\"', shape, "BYTES", "TENSOR_BACKEND_OUTPUT"),
    ]


@pytest.fixture(scope="module")
def churn(tmp_path_factory: pytest.TempPathFactory) -> ModelMetadata:
    return package_churn(tmp_path_factory.mktemp("churn"))[1]


def test_inputs_are_read_and_outputs_ignored() -> None:
    text = trace_file(*churn_request(1, "30,nan", '\\"paris\\",\\"lyon\\"'))
    json.loads(text)  # Triton's layout, valid JSON here

    [request] = parse_trace_file(text)

    assert request.inputs["city"] == ["paris", "lyon"]
    assert request.inputs["age"][0] == 30.0
    assert set(request.inputs) == {"age", "income", "city", "plan"}
    assert not request.unreadable


def test_unescaped_strings_are_read_record_by_record() -> None:
    # Triton writes a string holding a quote or a newline as it is: the file is no JSON.
    text = trace_file(*churn_request(1, "30,40", '\\"pa"ris\\",\\"ly\non\\"'))
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)

    [request] = parse_trace_file(text)

    assert request.inputs["city"] == ['pa"ris', "ly\non"]
    assert request.inputs["age"] == [30.0, 40.0]


def test_values_that_cannot_be_told_apart_drop_the_request() -> None:
    # A string holding "," splits into one value too many for the shape.
    text = trace_file(
        *churn_request(1, "30,40", '\\"a\\",\\"b\\",\\"c\\"'),
        *churn_request(2, "50,60", '\\"nice\\",\\"lyon\\"'),
    )
    requests = parse_trace_file(text)

    assert [request.unreadable for request in requests] == [True, False]


def test_requests_are_counted_by_column_as_score_counts_a_batch(churn: ModelMetadata) -> None:
    rows = traffic(6, seed=3)
    requests = [
        TracedRequest(
            inputs={
                column.tensor_name: rows[column.name].iloc[start : start + 3].tolist()
                for column in churn.input_schema.columns
            }
        )
        for start in (0, 3)
    ]
    requests.append(TracedRequest(inputs={"age": [1.0]}))  # lacks the other inputs
    requests.append(TracedRequest(unreadable=True))

    counts, skipped = count_requests(requests, churn)

    expected = BatchCounts.empty(churn.reference_profile)
    expected.add_frame(rows, churn.reference_profile)
    assert counts == expected
    assert skipped == 2


def counts_of(frame: pd.DataFrame, metadata: ModelMetadata) -> BatchCounts:
    counts = BatchCounts.empty(metadata.reference_profile)
    counts.add_frame(frame, metadata.reference_profile)
    return counts


def test_counts_leave_the_window_once_it_has_passed(churn: ModelMetadata) -> None:
    window = RollingCounts(churn.reference_profile, window_seconds=60.0, slices=6)
    window.add(counts_of(traffic(5, seed=1), churn), now=0.0)
    window.add(counts_of(traffic(7, seed=2), churn), now=35.0)

    assert window.total(now=55.0).rows == 12
    assert window.total(now=65.0).rows == 7  # the first slice (0 to 10s) has passed
    assert window.total(now=100.0).rows == 0


def test_the_newest_file_is_left_while_triton_may_still_write_it(tmp_path: Path) -> None:
    for index in (0, 1, 2):
        (tmp_path / f"trace.json.{index}").write_text("[]")
    (tmp_path / "other.json.3").write_text("[]")
    now = time.time()

    assert [p.name for p in finished_trace_files(tmp_path, now)] == [
        "trace.json.0",
        "trace.json.1",
    ]
    os.utime(tmp_path / "trace.json.2", (now - 5, now - 5))
    assert len(finished_trace_files(tmp_path, now)) == 3


def test_a_file_is_deleted_even_when_it_cannot_be_read(
    tmp_path: Path, churn: ModelMetadata
) -> None:
    (tmp_path / "trace.json.0").write_bytes(b"\xff\xfe not a trace")
    (tmp_path / "trace.json.1").write_text(
        trace_file(*churn_request(1, "30,40", '\\"nice\\",\\"lyon\\"'))
    )
    watch = DriftWatch(churn, tmp_path, 3600.0, 0.2, wall_clock=lambda: time.time() + 5)

    assert watch.poll() == 2
    assert list(tmp_path.iterdir()) == []
    assert watch.snapshot.counts.rows == 2
    assert watch.sampled_requests == 1


def test_bin_counts_of_two_pods_sum_to_the_drift_of_both(churn: ModelMetadata) -> None:
    reference = churn.reference_profile
    pods = [counts_of(traffic(150, seed=seed, income_shift_in_std=1.0), churn) for seed in (4, 5)]
    summed: dict[tuple[str, str], float] = {}
    for counts in pods:
        snapshot = Snapshot(counts, drift_report(counts, reference, 0.2), 0, 0, 0)
        registry = CollectorRegistry()
        registry.register(SnapshotCollector(lambda s=snapshot: s, "churn", "churn-abc"))
        for family in registry.collect():
            for sample in family.samples:
                if sample.name == "modelship_live_drift_window_bin_rows":
                    key = (sample.labels["feature"], sample.labels["bin"])
                    summed[key] = summed.get(key, 0.0) + sample.value
    both = BatchCounts.empty(reference)
    for counts in pods:
        both.merge(counts)

    rebuilt = drift_report(counts_from_bin_rows(reference, summed), reference, 0.2)
    direct = drift_report(both, reference, 0.2)

    assert rebuilt.drifted_features == direct.drifted_features == ["income"]
    assert rebuilt.rows == direct.rows == 300
    for name, feature in direct.features.items():
        assert rebuilt.features[name].psi == pytest.approx(feature.psi)
        assert rebuilt.features[name].p_value == pytest.approx(feature.p_value)


def test_a_window_is_judged_only_once_it_holds_enough_rows(churn: ModelMetadata) -> None:
    reference = churn.reference_profile
    small = counts_of(traffic(100, seed=6, income_shift_in_std=1.0), churn)
    large = counts_of(traffic(400, seed=6, income_shift_in_std=1.0), churn)

    unjudged = judge_window(small, reference, 0.2, min_rows=400)
    assert drift_report(small, reference, 0.2).drifted_features == ["income"]
    assert unjudged.drifted_features == []
    assert not unjudged.features["income"].drifted
    assert unjudged.features["income"].psi > 0.2  # still shown
    assert judge_window(large, reference, 0.2, min_rows=400).drifted_features == ["income"]
