"""Drift is flagged for a real shift and not for the sampling noise of a small batch.

PSI over 20 bins between two samples of one distribution is far above the usual
0.25 threshold when the samples are small; the report weighs it against the
chance of seeing it by accident (Pearson's chi-square test of homogeneity),
so a clean batch of a few dozen rows is not flagged while a shifted one is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from modelship_serving.drift import (
    DEFAULT_PSI_THRESHOLD,
    BatchCounts,
    DriftReport,
    chi_square_tail,
    drift_report,
    homogeneity_p_value,
    pooled_bins,
)
from modelship_serving.drift_rules import SIGNIFICANCE
from modelship_serving.profile import profile_frame
from scipy.special import chdtrc

RNG = np.random.default_rng(20261122)


def _frame(rows: int, shift: float = 0.0, city: str | None = None) -> pd.DataFrame:
    cities = ["paris", "lyon", "nantes"]
    return pd.DataFrame(
        {
            "age": RNG.normal(40 + shift, 10, rows),
            "city": [city] * rows if city else RNG.choice(cities, rows, p=[0.5, 0.3, 0.2]),
        }
    )


def _report(batch: pd.DataFrame, reference: pd.DataFrame) -> DriftReport:
    profile = profile_frame(reference, ["age"], ["city"])
    counts = BatchCounts.empty(profile)
    counts.add_frame(batch, profile)
    return drift_report(counts, profile)


def test_a_small_clean_batch_is_not_flagged_although_its_psi_is_high() -> None:
    report = _report(_frame(45), _frame(133))
    age = report.features["age"]
    assert age.psi > DEFAULT_PSI_THRESHOLD  # what PSI alone would have flagged
    assert age.p_value > 0.01
    assert report.drifted_features == []


@pytest.mark.parametrize("rows", [45, 5000])
def test_a_shifted_batch_is_flagged_at_any_size(rows: int) -> None:
    report = _report(_frame(rows, shift=25, city="marseille"), _frame(2000))
    assert report.drifted_features == ["age", "city"]
    assert report.features["age"].p_value < 1e-6


def test_a_large_clean_batch_is_not_flagged() -> None:
    report = _report(_frame(20000), _frame(20000))
    assert report.drifted_features == []
    assert report.features["age"].psi < 0.05


@pytest.mark.parametrize(
    ("reference", "batch", "expected"),
    [
        # the same shares: nothing at all is surprising
        ([100, 200, 300], [10, 20, 30], pytest.approx(1.0)),
        # bins empty in both samples are left out, not counted as evidence
        ([100, 0, 300], [10, 0, 30], pytest.approx(1.0)),
        # 2 x 2 table [[50, 50], [70, 30]]: chi-square 8.33 with 1 degree of freedom
        ([50, 50], [70, 30], pytest.approx(0.00389, rel=0.01)),
        # degenerate inputs never claim significance
        ([10], [3], 1.0),
        ([10, 20], [0, 0], 1.0),
    ],
)
def test_p_value_is_pearsons_test_of_homogeneity(
    reference: list[float], batch: list[float], expected: object
) -> None:
    assert homogeneity_p_value(reference, batch) == expected


@pytest.mark.parametrize("degrees", [*range(1, 41), 99, 100, 999, 1000])
def test_chi_square_tail_is_scipys(degrees: int) -> None:
    # scipy is a test-only dependency of scoring: the tail is computed without it
    statistics = [0.0, 1e-6, 0.5, 3.84, 10.0, 100.0, 600.0, degrees / 2, degrees, 2.0 * degrees]
    for statistic in statistics:
        expected = float(chdtrc(degrees, statistic))
        assert chi_square_tail(degrees, statistic) == pytest.approx(expected, rel=1e-9, abs=1e-300)
    assert chi_square_tail(degrees, float("inf")) == 0.0


def _p_values_of_windows(
    reference: pd.DataFrame, windows: int, rows: int, seed: int, shift: float = 0.0
) -> list[float]:
    """The age feature's p-value for ``windows`` windows of ``rows`` rows drawn like
    ``reference`` (age moved by ``shift``)."""
    profile = profile_frame(reference, ["age"], ["city"])
    rng = np.random.default_rng(seed)
    p_values = []
    for _ in range(windows):
        counts = BatchCounts.empty(profile)
        batch = pd.DataFrame({"age": rng.normal(40 + shift, 10, rows), "city": ["paris"] * rows})
        counts.add_frame(batch, profile)
        p_values.append(drift_report(counts, profile).features["age"].p_value)
    return p_values


@pytest.mark.parametrize("rows", [30, 100, 200])
def test_small_clean_windows_are_significant_at_about_the_nominal_rate(rows: int) -> None:
    # A normal reference spreads its 20 bins' tails thin: unpooled, 100-row windows drawn
    # like it came out "significant at 1%" about one time in ten.
    reference = pd.DataFrame({"age": np.random.default_rng(1).normal(40, 10, 5000), "city": "x"})
    p_values = _p_values_of_windows(reference, windows=1000, rows=rows, seed=rows)

    false_positive_rate = sum(p < SIGNIFICANCE for p in p_values) / len(p_values)

    assert false_positive_rate <= 0.02


def test_pooling_keeps_a_one_sd_shift_significant_in_a_small_window() -> None:
    reference = pd.DataFrame({"age": np.random.default_rng(2).normal(40, 10, 5000), "city": "x"})
    p_values = _p_values_of_windows(reference, windows=200, rows=100, seed=3, shift=10.0)

    assert sum(p < SIGNIFICANCE for p in p_values) / len(p_values) >= 0.99


def test_pooling_merges_sparse_bins_by_the_references_shares_alone() -> None:
    # 100 batch rows: bins expecting 1 and 2 rows join their neighbour; the batch's own
    # counts do not move the grouping.
    reference = [10, 20, 400, 400, 170]
    assert pooled_bins(reference, [1, 2, 40, 40, 17]).tolist() == [
        [430, 400, 170],
        [43, 40, 17],
    ]
    assert pooled_bins(reference, [30, 0, 30, 30, 10]).tolist() == [
        [430, 400, 170],
        [60, 30, 10],
    ]
