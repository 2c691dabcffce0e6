"""Drift of a batch against a reference profile: per-feature population stability index (PSI).

Batch values are counted in the reference's own histogram bins (values beyond
the reference range fall in the end bins) and against the reference's
categories (others in one "other" bucket), so the two distributions compare
bin for bin. Counts are additive: a batch can be summarised chunk by chunk and
the partial counts summed, which is what lets a resumed scoring job report on
all its rows.

PSI = sum over bins of (batch share - reference share) * ln(batch share / reference share),
with shares floored at 1e-4 so an empty bin does not divide by zero. Rule of
thumb: below 0.1 stable, 0.1 to 0.25 moderate shift, above 0.25 major shift.

PSI alone is biased upwards on small samples: two samples of one distribution,
n and m rows over k bins, give a PSI of about (k - 1) * (1/n + 1/m) by chance
(0.57 for 45 rows against 133 over 20 bins), more where the floor meets empty
bins. So a feature counts as drifted only when its PSI passes the threshold AND
a chi-square test of homogeneity on the same bins says a difference this large
has less than a 1% chance between samples of one distribution: a small batch
is not flagged for noise, a large one is flagged for a real shift. The test pools
sparse adjacent bins first (`pooled_bins`), without which it claims significance
several times too often on windows of a few hundred rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from modelship_serving.drift_rules import feature_drifted, significant
from modelship_serving.profile import ReferenceProfile

if TYPE_CHECKING:  # pandas is imported where frames are counted: scoring counts Arrow columns
    import pandas as pd

PSI_FLOOR = 1e-4
DEFAULT_PSI_THRESHOLD = 0.25
OTHER_CATEGORY = "__other__"
# Expected rows per bin below which bins are pooled for the significance test (the usual
# validity rule for Pearson's chi-square).
MIN_EXPECTED_ROWS = 5.0


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _finite(value: float) -> float | None:
    """``value``, or None where it is no number JSON can carry (inf, nan)."""
    return value if math.isfinite(value) else None


class NumericCounts(_Model):
    """Additive summary of one numeric column of a batch, in the reference's bins."""

    # Sums of huge values (1e200 squared) overflow to infinity: kept as "Infinity" so that
    # the counts of a committed chunk read back, instead of null, which no float accepts.
    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="strings")

    bin_counts: list[int] = Field(description="Counts per reference histogram bin.")
    missing: int = Field(default=0, description="Missing values.")
    count: int = Field(default=0, description="Present values.")
    total: float = Field(default=0.0, description="Sum of present values.")
    total_of_squares: float = Field(default=0.0, description="Sum of squares of present values.")


class CategoricalCounts(_Model):
    """Additive summary of one categorical column of a batch."""

    category_counts: dict[str, int] = Field(
        description=f"Counts per reference category; {OTHER_CATEGORY!r} for all others."
    )
    missing: int = Field(default=0, description="Missing values.")


class BatchCounts(_Model):
    """Additive summary of a whole batch (or a chunk of it)."""

    rows: int = Field(default=0, description="Rows counted.")
    numeric: dict[str, NumericCounts] = Field(description="Numeric columns by name.")
    categorical: dict[str, CategoricalCounts] = Field(description="Categorical columns by name.")

    @classmethod
    def empty(cls, reference: ReferenceProfile) -> BatchCounts:
        """Zero counts shaped like ``reference``."""
        return cls(
            numeric={
                name: NumericCounts(bin_counts=[0] * len(profile.histogram_counts))
                for name, profile in reference.numeric.items()
            },
            categorical={
                name: CategoricalCounts(
                    category_counts=dict.fromkeys([*profile.frequencies, OTHER_CATEGORY], 0)
                )
                for name, profile in reference.categorical.items()
            },
        )

    def add_frame(self, frame: pd.DataFrame, reference: ReferenceProfile) -> None:
        """Count ``frame``'s rows into this summary."""
        self.rows += len(frame)
        for name in self.numeric:
            self.add_numbers(name, series_numbers(frame[name]), reference)
        for name in self.categorical:
            self.add_categories(name, *series_categories(frame[name]))

    def add_numbers(
        self, name: str, values: np.ndarray[Any, Any], reference: ReferenceProfile
    ) -> None:
        """Count the values (float64, a gap as NaN) of numeric column ``name`` (the rows
        are counted by the caller, once for all columns)."""
        counts = self.numeric[name]
        gaps = np.isnan(values)
        present = values[~gaps] if gaps.any() else values  # the copy only where it drops some
        counts.missing += int(len(values) - len(present))
        counts.count += len(present)
        with np.errstate(over="ignore"):  # beyond 1e154 a square is infinite, and says so
            counts.total += float(present.sum())
            counts.total_of_squares += float(np.square(present).sum())
        edges = reference.numeric[name].histogram_edges
        if len(edges) >= 2 and len(present):
            added = _bin_counts(present, edges)
            counts.bin_counts = [int(a + b) for a, b in zip(counts.bin_counts, added, strict=True)]

    def add_categories(self, name: str, found: Iterable[tuple[str, int]], missing: int) -> None:
        """Count the ``found`` (category as text, rows) and ``missing`` values of categorical
        column ``name``."""
        categorical = self.categorical[name]
        categorical.missing += missing
        for category, added in found:
            key = category if category in categorical.category_counts else OTHER_CATEGORY
            categorical.category_counts[key] += int(added)

    def merge(self, other: BatchCounts) -> None:
        """Add another summary of the same shape into this one."""
        self.rows += other.rows
        for name, counts in self.numeric.items():
            theirs = other.numeric[name]
            counts.bin_counts = [
                a + b for a, b in zip(counts.bin_counts, theirs.bin_counts, strict=True)
            ]
            counts.missing += theirs.missing
            counts.count += theirs.count
            counts.total += theirs.total
            counts.total_of_squares += theirs.total_of_squares
        for name, categorical in self.categorical.items():
            for key, added in other.categorical[name].category_counts.items():
                categorical.category_counts[key] = categorical.category_counts.get(key, 0) + added
            categorical.missing += other.categorical[name].missing


def series_numbers(column: pd.Series) -> np.ndarray[Any, Any]:
    """A pandas column as float64, what is no number (a gap, text) as NaN."""
    if not (isinstance(column.dtype, np.dtype) and column.dtype.kind in "biuf"):
        import pandas as pd

        column = pd.to_numeric(column, errors="coerce")  # numbers already: no pass
    values: np.ndarray[Any, Any] = column.to_numpy(dtype=np.float64)
    return values


def series_categories(column: pd.Series) -> tuple[list[tuple[str, int]], int]:
    """A pandas column's categories as text with their rows, and its missing values."""
    present = column.dropna()
    if not _is_text(present.dtype):  # text already: no cast
        present = present.astype(str)
    found = [(str(category), int(added)) for category, added in present.value_counts().items()]
    return found, int(column.isna().sum())


def _is_text(dtype: object) -> bool:
    """Whether values of ``dtype`` are text already: strings, or categoricals of strings."""
    import pandas as pd

    if isinstance(dtype, pd.CategoricalDtype):
        return isinstance(dtype.categories.dtype, pd.StringDtype)
    return isinstance(dtype, pd.StringDtype)


def _bin_counts(present: np.ndarray[Any, Any], edges: list[float]) -> np.ndarray[Any, Any]:
    """How many of ``present`` (no NaN) fall in each bin of ``edges``, values below or above
    the range in the end bins: bin i holds interior edge i-1 <= value < interior edge i.

    Counted as the differences between where the interior edges fall among the sorted
    values: one sort and a search per edge, several times faster than a binary search per
    value (0.2 against 0.75 ms for 50,000 values into 20 bins), and the same counts.
    """
    interior_edges = np.asarray(edges[1:-1], dtype=np.float64)
    below_edge = np.searchsorted(np.sort(present), interior_edges, side="left")
    return np.diff(below_edge, prepend=0, append=len(present))


class FeatureDrift(_Model):
    """Drift of one feature."""

    kind: str = Field(description="numeric or categorical.")
    psi: float = Field(description="Population stability index against the reference.")
    p_value: float = Field(
        description="Chance of a difference this large between two samples of one"
        " distribution of these sizes (chi-square test of homogeneity on the bins)."
    )
    drifted: bool = Field(
        description="Whether psi exceeds the report's threshold and p_value is below 0.01."
    )
    missing_fraction: float = Field(description="Share of missing values in the batch.")
    reference_missing_fraction: float = Field(description="Share missing in the reference.")
    mean: float | None = Field(default=None, description="Batch mean (numeric).")
    reference_mean: float | None = Field(default=None, description="Reference mean (numeric).")
    unseen_fraction: float | None = Field(
        default=None,
        description="Share of present values in categories outside the reference's list"
        " (categorical).",
    )


class DriftReport(_Model):
    """Drift of a batch against the model's reference profile."""

    rows: int = Field(description="Rows in the batch.")
    reference_rows: int = Field(description="Rows in the reference sample.")
    psi_threshold: float = Field(description="PSI above which a feature counts as drifted.")
    drifted_features: list[str] = Field(description="Features whose PSI exceeds the threshold.")
    features: dict[str, FeatureDrift] = Field(description="Per-feature drift, by column name.")


def population_stability_index(reference: list[float], batch: list[float]) -> float:
    """PSI of two distributions given as counts or shares over the same bins."""
    reference_total, batch_total = sum(reference), sum(batch)
    if reference_total <= 0 or batch_total <= 0:
        return 0.0
    psi = 0.0
    for expected, actual in zip(reference, batch, strict=True):
        expected_share = max(expected / reference_total, PSI_FLOOR)
        actual_share = max(actual / batch_total, PSI_FLOOR)
        psi += (actual_share - expected_share) * math.log(actual_share / expected_share)
    return psi


def pooled_bins(reference: list[float], batch: list[float]) -> npt.NDArray[np.float64]:
    """The 2 x k table of counts with adjacent bins merged until each holds at least
    MIN_EXPECTED_ROWS expected rows of the smaller sample.

    Pearson's test is only valid where every cell expects about 5 or more: on a small
    window spread over sparse tail bins it claims significance far more often than its
    nominal rate. The grouping follows the reference's shares alone (never the batch's
    counts), so the test's null distribution stays what it claims; a tail left short of
    the minimum joins the group before it.
    """
    table = np.asarray([reference, batch], dtype=np.float64)
    totals = table.sum(axis=1)
    if table.shape[1] < 2 or (totals <= 0).any():
        return table
    expected = table[0] / totals[0] * totals.min()
    groups: list[list[int]] = []
    current: list[int] = []
    current_expected = 0.0
    for index, bin_expected in enumerate(expected):
        current.append(index)
        current_expected += bin_expected
        if current_expected >= MIN_EXPECTED_ROWS:
            groups.append(current)
            current, current_expected = [], 0.0
    if current:
        if groups:
            groups[-1].extend(current)
        else:
            groups.append(current)
    return np.stack([table[:, group].sum(axis=1) for group in groups], axis=1)


def homogeneity_p_value(reference: list[float], batch: list[float]) -> float:
    """Chance that two samples of one distribution differ this much over these bins.

    Pearson's chi-square test of homogeneity on the 2 x k table of counts, sparse bins
    pooled (`pooled_bins`), bins empty in both samples left out.
    """
    table = pooled_bins(reference, batch)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) <= 0).any():
        return 1.0
    # Pearson's statistic and the chi-square tail by hand: the same figure as
    # scipy.stats.chi2_contingency(correction=False), without scipy's import (0.08 s of
    # CPU for scipy.special alone) on every scoring run.
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float((np.square(table - expected) / expected).sum())
    return chi_square_tail(table.shape[1] - 1, statistic)


def chi_square_tail(degrees: int, statistic: float) -> float:
    """P(X >= ``statistic``) for X chi-square with ``degrees`` (a whole number >= 1) degrees
    of freedom: scipy.special.chdtrc's figure, from the standard library.

    The regularized upper incomplete gamma Q(degrees / 2, statistic / 2) in closed form for a
    whole number of degrees: Q(1, y) = exp(-y) or Q(1/2, y) = erfc(sqrt(y)), then
    Q(a + 1, y) = Q(a, y) + y**a exp(-y) / Gamma(a + 1) (each term in logs, so no overflow).
    """
    if math.isnan(statistic):
        return math.nan
    if statistic <= 0:
        return 1.0
    if math.isinf(statistic):
        return 0.0
    half = statistic / 2
    shape, tail = (1.0, math.exp(-half)) if degrees % 2 == 0 else (0.5, math.erfc(math.sqrt(half)))
    log_half = math.log(half)
    while shape < degrees / 2:
        tail += math.exp(shape * log_half - half - math.lgamma(shape + 1))
        shape += 1
    return min(tail, 1.0)


def drift_report(
    counts: BatchCounts, reference: ReferenceProfile, threshold: float = DEFAULT_PSI_THRESHOLD
) -> DriftReport:
    """Compare a batch's counts with the reference profile."""
    features: dict[str, FeatureDrift] = {}
    rows = max(counts.rows, 1)
    for name, numeric in counts.numeric.items():
        profile = reference.numeric[name]
        histogram = [float(c) for c in profile.histogram_counts]
        features[name] = _feature_drift(
            "numeric",
            histogram,
            histogram,
            [float(c) for c in numeric.bin_counts],
            threshold,
            missing_fraction=numeric.missing / rows,
            reference_missing_fraction=profile.missing_fraction,
            mean=_finite(numeric.total / numeric.count) if numeric.count else None,
            reference_mean=profile.mean,
        )
    for name, categorical in counts.categorical.items():
        cat_profile = reference.categorical[name]
        keys = [*cat_profile.frequencies, OTHER_CATEGORY]
        reference_shares = [*cat_profile.frequencies.values(), cat_profile.other_fraction]
        batch_counts = [float(categorical.category_counts.get(key, 0)) for key in keys]
        present = sum(batch_counts)
        reference_present = reference.row_count * (1 - cat_profile.missing_fraction)
        features[name] = _feature_drift(
            "categorical",
            reference_shares,
            [share * reference_present for share in reference_shares],
            batch_counts,
            threshold,
            missing_fraction=categorical.missing / rows,
            reference_missing_fraction=cat_profile.missing_fraction,
            unseen_fraction=batch_counts[-1] / present if present else None,
        )
    return DriftReport(
        rows=counts.rows,
        reference_rows=reference.row_count,
        psi_threshold=threshold,
        drifted_features=sorted(name for name, feature in features.items() if feature.drifted),
        features=features,
    )


def _feature_drift(
    kind: str,
    reference: list[float],
    reference_rows: list[float],
    batch: list[float],
    threshold: float,
    **fields: Any,
) -> FeatureDrift:
    """One feature's drift: PSI of the ``batch`` counts against the ``reference`` counts or
    shares, the test against the reference's rows per bin (``reference_rows``)."""
    psi = population_stability_index(reference, batch)
    p_value = homogeneity_p_value(reference_rows, batch)
    drifted = feature_drifted(psi, significant(p_value), threshold)
    return FeatureDrift(kind=kind, psi=psi, p_value=p_value, drifted=drifted, **fields)


def batch_counts_json(counts: BatchCounts) -> str:
    """Serialised counts (for a chunk's sidecar file)."""
    return counts.model_dump_json()


def batch_counts_from_json(text: str) -> BatchCounts:
    """Counts read back from `batch_counts_json`."""
    return BatchCounts.model_validate_json(text)
