"""Drift is flagged for a real shift and not for the sampling noise of a small batch.

PSI over 20 bins between two samples of one distribution is far above the usual
0.25 threshold when the samples are small; the report weighs it against the
chance of seeing it by accident (chi-square law of the symmetric KL divergence),
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
    drift_report,
    psi_p_value,
)
from modelship_serving.profile import profile_frame

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
    ("psi", "bins", "rows", "reference_rows", "expected"),
    [
        # n*m/(n+m) * psi = 100 * 0.0 = 0: nothing at all is surprising.
        (0.0, 10, 200, 200, 1.0),
        # statistic 9 with 9 degrees of freedom: the chi-square median region.
        (0.09, 10, 200, 200, pytest.approx(0.437, abs=0.01)),
        # statistic 100 with 9 degrees of freedom: essentially impossible by chance.
        (1.0, 10, 200, 200, pytest.approx(0.0, abs=1e-12)),
        # degenerate inputs never claim significance
        (3.0, 1, 200, 200, 1.0),
        (3.0, 10, 0, 200, 1.0),
    ],
)
def test_p_value_follows_the_chi_square_law(
    psi: float, bins: int, rows: int, reference_rows: int, expected: object
) -> None:
    assert psi_p_value(psi, bins, rows, reference_rows) == expected
