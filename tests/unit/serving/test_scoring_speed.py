"""The speed-ups of `modelship score` keep its promises: work handed to the commit stage
before a crash is done (so a rerun resumes after it), errors of any stage reach the
caller, the output an uninterrupted run streams is byte for byte the one a resumed run
assembles from its committed chunks, drift bins and feed checks are those of the slower
code they replace, and a scoring run of Parquet with an ONNX model imports neither pandas (its
hot path is Arrow), scipy (its chi-square tail is computed by hand) nor onnx (only packaging
reads a model's graph)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from modelship_serving.drift import BatchCounts
from modelship_serving.errors import SampleError
from modelship_serving.metadata import InputColumn
from modelship_serving.packaging.schema import column_array
from modelship_serving.profile import profile_frame
from modelship_serving.scoring.chunk import Chunk
from modelship_serving.scoring.counting import chunk_counts
from modelship_serving.scoring.feeds import column_feed
from modelship_serving.scoring.job import run_scoring
from modelship_serving.scoring.pipeline import in_order_work, read_ahead
from modelship_serving.scoring.scorers import InProcessScorer
from support.churn_scoring import churn_job
from support.sklearn_models import customer_rows as rows


def test_work_handed_over_before_a_crash_is_done_in_order() -> None:
    done: list[int] = []

    def slow(number: int) -> None:
        time.sleep(0.05)
        done.append(number)

    def hand_over_then_crash() -> None:
        with in_order_work("test") as work:
            for number in range(3):
                work.submit(partial(slow, number))
            raise RuntimeError("node lost")

    with pytest.raises(RuntimeError, match="node lost"):
        hand_over_then_crash()
    assert done == [0, 1, 2]


def test_an_error_of_the_work_reaches_the_caller() -> None:
    def fail() -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"), in_order_work("test") as work:
        work.submit(fail)


def test_read_ahead_keeps_the_order_and_passes_on_an_error() -> None:
    def numbers() -> Iterator[int]:
        yield from range(5)
        raise ValueError("bad row")

    seen: list[int] = []
    with pytest.raises(ValueError, match="bad row"):
        seen.extend(read_ahead(numbers()))
    assert seen == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_a_streamed_output_equals_the_one_a_resumed_run_assembles(
    churn_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    source = tmp_path / "in.parquet"
    rows(700).to_parquet(source, index=False)

    job = partial(churn_job, churn_repo, source, key_column="customer")

    streamed = tmp_path / f"streamed{suffix}"
    run_scoring(job(streamed))

    assembled = tmp_path / f"assembled{suffix}"
    original = InProcessScorer.score
    calls: list[int] = []

    def crash_on_fourth(self: InProcessScorer, chunk: pd.DataFrame) -> Any:
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("pod lost")
        return original(self, chunk)

    monkeypatch.setattr(InProcessScorer, "score", crash_on_fourth)
    with pytest.raises(RuntimeError, match="pod lost"):
        run_scoring(job(assembled))
    monkeypatch.setattr(InProcessScorer, "score", original)
    manifest = run_scoring(job(assembled))
    assert manifest.chunks_resumed == 3
    assert assembled.read_bytes() == streamed.read_bytes()


def test_a_scoring_run_imports_neither_pandas_scipy_nor_onnx(
    churn_repo: Path, tmp_path: Path
) -> None:
    # A whole run of a Parquet table, drift report included, in a fresh process: pandas (0.15 s
    # of start-up; the hot path is Arrow), scipy (0.08 s of CPU for scipy.special alone) and
    # onnx (only packaging reads a model's graph) stay unimported. (A dataset's discovery
    # imports pyarrow.dataset, which imports pandas itself.)
    frame = rows(300)
    frame.loc[[5, 250], "city"] = None
    frame.loc[[7, 120], "age"] = None
    source = tmp_path / "in.parquet"
    frame.to_parquet(source, index=False)
    output = tmp_path / "out.parquet"
    code = (
        "import sys; from pathlib import Path;"
        " from modelship_serving.scoring.job import ScoreSettings, run_scoring;"
        " run_scoring(ScoreSettings(model_repo=Path(sys.argv[1]), model='churn',"
        " input_uri=sys.argv[2], output_uri=sys.argv[3], key_column='customer',"
        " rows_per_chunk=128));"
        " sys.exit(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('pandas', 'scipy', 'onnx'))[:3] or None)"
    )
    arguments = [str(churn_repo), str(source), str(output)]
    run = subprocess.run(
        [sys.executable, "-c", code, *arguments], check=False, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert Path(f"{output}.drift.json").exists()
    assert pd.read_parquet(output)["row"].size == 300


@pytest.mark.parametrize("as_text", [False, True], ids=["numbers", "numbers-as-text"])
def test_drift_bins_every_value_where_the_reference_bins_it(as_text: bool) -> None:
    # Bin i holds the values from interior edge i-1 (inclusive) to interior edge i; values
    # below or above the range, infinities included, go to the end bins; NaN is missing
    # (and so is text that is no number).
    reference = profile_frame(pd.DataFrame({"x": np.linspace(0.0, 10.0, 101)}), ["x"], [])
    edges = reference.numeric["x"].histogram_edges
    midpoints = [(low + high) / 2 for low, high in itertools.pairwise(edges)]
    values = [*edges, *midpoints, -np.inf, np.inf, -1e300, 1e300, -3.0, 42.0, np.nan, np.nan]
    shuffled = np.random.default_rng(7).permutation(np.asarray(values * 3))
    column = pd.Series([repr(float(v)) if not np.isnan(v) else "n/a" for v in shuffled])
    counts = BatchCounts.empty(reference)
    counts.add_frame(pd.DataFrame({"x": column if as_text else shuffled}), reference)

    def bin_of(value: float) -> int:
        return sum(1 for edge in edges[1:-1] if edge <= value)

    expected = [0] * (len(edges) - 1)
    for value in shuffled:
        if not np.isnan(value):
            expected[bin_of(value)] += 1
    assert counts.numeric["x"].bin_counts == expected
    assert counts.numeric["x"].missing == 6
    assert counts.numeric["x"].count == len(shuffled) - 6


@pytest.mark.parametrize("dictionary", [False, True], ids=["text", "dictionary"])
def test_drift_counts_of_arrow_columns_equal_those_of_the_chunk_as_a_frame(
    dictionary: bool,
) -> None:
    # A scoring job counts Arrow columns; `add_frame` counted the same chunk converted to
    # pandas: the counts (and so the report) are the same for every kind of column.
    frame = pd.DataFrame(
        {
            "ints": pd.array([1, None, 3, 40, 5] * 20, dtype="Int64"),
            "floats": [0.5, np.nan, 2.5, np.inf, -1e300] * 20,
            "numbers_as_text": ["1.5", "n/a", None, "7", "2"] * 20,
            "flags": pd.array([True, False, None, True, False] * 20, dtype="boolean"),
            "city": ["paris", None, "lyon", "atlantis", "paris"] * 20,
            "codes": pd.array([1, 2, None, 2, 7] * 20, dtype="Int64"),
        }
    )
    batch = pa.RecordBatch.from_pandas(frame.iloc[::-1], preserve_index=False)
    if dictionary:
        city = batch.schema.get_field_index("city")
        batch = batch.set_column(city, "city", batch.column(city).dictionary_encode())
    seen = np.linspace(0.0, 10.0, 30)
    sample = {name: seen for name in ("ints", "floats", "numbers_as_text", "flags")}
    sample.update(city=["paris", "lyon", "nice"] * 10, codes=[1, 2, 3] * 10)
    reference = profile_frame(pd.DataFrame(sample), [*sample][:4], ["city", "codes"])
    as_frame = BatchCounts.empty(reference)
    as_frame.add_frame(batch.to_pandas(), reference)
    assert chunk_counts(Chunk(batch), reference).model_dump() == as_frame.model_dump()


@pytest.mark.parametrize("from_arrow", [False, True], ids=["pandas", "arrow"])
@pytest.mark.parametrize(
    ("datatype", "value", "refused"),
    [
        ("FP32", float(np.finfo(np.float32).max), False),  # the largest FP32 holds
        ("FP32", -float(np.finfo(np.float32).max), False),
        ("FP32", float(np.finfo(np.float32).max) * (1 + 1e-9), True),  # rounded back to it
        ("FP32", 3.5e38, True),  # beyond it, infinite once cast
        ("FP32", -np.inf, True),
        ("INT32", float(np.iinfo(np.int32).max), False),
        ("INT32", -float(np.iinfo(np.int32).max), False),
        ("INT32", float(np.iinfo(np.int32).max) + 1, True),  # would wrap
        ("INT64", 1e19, True),
        ("INT64", np.inf, True),
    ],
)
def test_the_feed_check_stops_at_the_types_largest_value(
    datatype: str, value: float, refused: bool, from_arrow: bool
) -> None:
    # The same answer, and the same one-line error naming the row, whether the chunk is a
    # pandas DataFrame (evaluate, Triton) or Arrow columns (a scoring job).
    column = InputColumn(
        name="x", kind="numeric", source_dtype="float64", tensor_name="x", datatype=datatype
    )
    values = [1.0, np.nan, value, 2.0]
    if from_arrow:
        batch = pa.RecordBatch.from_pydict({"x": pa.array(values, pa.float64(), from_pandas=True)})
        convert = partial(column_feed, Chunk(batch, first_row=40))
    else:
        convert = partial(column_array, pd.Series(values, index=pd.RangeIndex(40, 44)))
    if refused:
        with pytest.raises(SampleError, match=r"column 'x' holds .* \(row 42\)"):
            convert(column)
    else:
        held = {"FP32": np.float32, "INT32": np.int32, "INT64": np.int64}[datatype]
        assert convert(column)[2, 0] == held(value)


def test_parquet_text_categories_score_and_count_as_the_same_rows_from_csv(
    churn_repo: Path, tmp_path: Path
) -> None:
    # A Parquet file's text categories are read as dictionaries (each value converted once):
    # gaps, unseen categories and several dictionaries across chunks give the same
    # predictions and drift report as the same rows read from CSV.
    frame = rows(450)
    frame.loc[[3, 120, 260], "city"] = None
    frame.loc[[7, 300], "city"] = "atlantis"
    frame.loc[200:, "plan"] = "legacy"
    frame.to_csv(tmp_path / "in.csv", index=False)
    frame.to_parquet(tmp_path / "in.parquet", index=False)
    for suffix in (".csv", ".parquet"):
        run_scoring(
            churn_job(
                churn_repo,
                tmp_path / f"in{suffix}",
                tmp_path / f"out-from{suffix}.parquet",
                key_column="customer",
            )
        )
    from_csv, from_parquet = (
        tmp_path / f"out-from{suffix}.parquet" for suffix in (".csv", ".parquet")
    )
    pd.testing.assert_frame_equal(pd.read_parquet(from_parquet), pd.read_parquet(from_csv))
    drift = [
        json.loads(Path(f"{output}.drift.json").read_text()) for output in (from_csv, from_parquet)
    ]
    assert drift[0] == drift[1]
    city = drift[1]["features"]["city"]
    assert city["unseen_fraction"] > 0
    assert city["missing_fraction"] == pytest.approx(3 / 450)
