"""Reference profile of a data sample: per-feature statistics that drift is measured against.

Numeric columns get quantiles, a fixed-edge histogram, mean, standard deviation
and the share of missing values; categorical columns get the frequencies of
their most common categories. A later batch can be profiled against the same
histogram edges and category list, so the two are directly comparable.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # imported where a sample is profiled: scoring only reads a profile
    import pandas as pd

QUANTILE_LEVELS: tuple[float, ...] = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)
HISTOGRAM_BINS = 20
MAX_CATEGORIES = 50


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NumericFeatureProfile(_Model):
    """Distribution of one numeric column."""

    count: int = Field(description="Number of non-missing values.")
    missing_fraction: float = Field(description="Share of rows where the value is missing.")
    mean: float | None = Field(description="Mean of the non-missing values (None if all missing).")
    std: float | None = Field(description="Standard deviation (ddof=0) of non-missing values.")
    quantile_levels: list[float] = Field(description="Levels of `quantiles`, from 0 to 1.")
    quantiles: list[float] = Field(description="Quantiles at `quantile_levels` (empty if none).")
    histogram_edges: list[float] = Field(
        description="Bin edges, len(counts)+1; values outside the edges fall in the end bins."
    )
    histogram_counts: list[int] = Field(description="Number of values in each bin.")


class CategoricalFeatureProfile(_Model):
    """Distribution of one categorical column."""

    count: int = Field(description="Number of non-missing values.")
    missing_fraction: float = Field(description="Share of rows where the value is missing.")
    distinct: int = Field(description="Number of distinct categories seen.")
    frequencies: dict[str, float] = Field(
        description=f"Share of non-missing rows per category, for the {MAX_CATEGORIES} most common."
    )
    other_fraction: float = Field(
        description="Share of non-missing rows whose category is not in `frequencies`."
    )


class ReferenceProfile(_Model):
    """Profile of a whole sample."""

    row_count: int = Field(description="Number of rows profiled.")
    numeric: dict[str, NumericFeatureProfile] = Field(description="Numeric columns by name.")
    categorical: dict[str, CategoricalFeatureProfile] = Field(
        description="Categorical columns by name."
    )


def _finite_or_none(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def profile_numeric(values: pd.Series, bins: int = HISTOGRAM_BINS) -> NumericFeatureProfile:
    """Profile one numeric column."""
    import pandas as pd

    total = len(values)
    present = pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=np.float64)
    missing_fraction = 0.0 if total == 0 else float((total - len(present)) / total)
    if len(present) == 0:
        return NumericFeatureProfile(
            count=0,
            missing_fraction=missing_fraction,
            mean=None,
            std=None,
            quantile_levels=list(QUANTILE_LEVELS),
            quantiles=[],
            histogram_edges=[],
            histogram_counts=[],
        )
    low, high = float(present.min()), float(present.max())
    if low == high:  # a constant column still gets a usable one-bin histogram
        # at least one float apart: beyond 2**53 (a uint64 id) low - 0.5 is low itself
        pad = max(0.5, float(np.spacing(abs(low))))
        low, high = low - pad, high + pad
        bins = 1
    counts, edges = np.histogram(present, bins=bins, range=(low, high))
    return NumericFeatureProfile(
        count=len(present),
        missing_fraction=missing_fraction,
        mean=_finite_or_none(float(present.mean())),
        std=_finite_or_none(float(present.std())),
        quantile_levels=list(QUANTILE_LEVELS),
        quantiles=[float(q) for q in np.quantile(present, QUANTILE_LEVELS)],
        histogram_edges=[float(edge) for edge in edges],
        histogram_counts=[int(count) for count in counts],
    )


def profile_categorical(
    values: pd.Series, max_categories: int = MAX_CATEGORIES
) -> CategoricalFeatureProfile:
    """Profile one categorical column; categories are compared as strings."""
    total = len(values)
    present = values.dropna().astype(str)
    missing_fraction = 0.0 if total == 0 else float((total - len(present)) / total)
    counts = present.value_counts()
    shares = counts / len(present) if len(present) else counts.astype(float)
    top = shares.head(max_categories)
    return CategoricalFeatureProfile(
        count=len(present),
        missing_fraction=missing_fraction,
        distinct=len(counts),
        frequencies={str(category): float(share) for category, share in top.items()},
        other_fraction=float(max(0.0, 1.0 - float(top.sum()))) if len(present) else 0.0,
    )


def profile_frame(
    frame: pd.DataFrame, numeric_columns: list[str], categorical_columns: list[str]
) -> ReferenceProfile:
    """Profile the given columns of ``frame``."""
    return ReferenceProfile(
        row_count=len(frame),
        numeric={name: profile_numeric(frame[name]) for name in numeric_columns},
        categorical={name: profile_categorical(frame[name]) for name in categorical_columns},
    )
