"""The tiny scikit-learn models the serving tests package, score and serve: customer rows
with numeric (gappy) and categorical columns, a churn classifier and a spend regressor."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def mixed_frame(rows: int, seed: int) -> pd.DataFrame:
    """Numeric (with gaps) and categorical columns."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, rows),
            "income": rng.normal(50_000, 12_000, rows),
            "city": rng.choice(["paris", "lyon", "nice"], rows),
            "plan": rng.choice(["basic", "pro"], rows),
        }
    )
    frame.loc[frame.index % 13 == 0, "income"] = np.nan
    return frame


def customer_rows(count: int, seed: int = 5) -> pd.DataFrame:
    """Rows drawn like the mixed models' training data, keyed by a `customer` column."""
    frame = mixed_frame(count, seed)
    frame.insert(0, "customer", [f"c{index:05d}" for index in range(count)])
    return frame


def mixed_preprocessing(scale: bool) -> ColumnTransformer:
    numeric = make_pipeline(SimpleImputer(), StandardScaler()) if scale else SimpleImputer()
    return ColumnTransformer(
        [
            ("numeric", numeric, ["age", "income"]),
            ("category", OneHotEncoder(handle_unknown="ignore"), ["city", "plan"]),
        ]
    )


def churn_classifier(train: pd.DataFrame) -> Any:
    """String labels ("yes"/"no") behind a ColumnTransformer, fitted on `train`."""
    labels = np.where((train["age"] > 45) | (train["plan"] == "pro"), "yes", "no")
    return Pipeline(
        [("pre", mixed_preprocessing(scale=True)), ("clf", LogisticRegression(max_iter=1000))]
    ).fit(train, labels)


def spend_regressor(train: pd.DataFrame) -> Any:
    """A gradient-boosted regressor behind a ColumnTransformer, fitted on `train`."""
    target = train["age"] * 2 + (train["city"] == "nice") * 10 + train["income"].fillna(0) / 1e4
    return Pipeline(
        [
            ("pre", mixed_preprocessing(scale=False)),
            ("reg", GradientBoostingRegressor(n_estimators=25, random_state=0)),
        ]
    ).fit(train, target)
