"""The benchmarks' synthetic table and model: 8 numeric columns (x3 with gaps) and 2
categorical, and a ColumnTransformer + LogisticRegression pipeline trained on them."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = [f"x{i}" for i in range(8)]
CATEGORICAL = ["region", "plan"]
FEATURES = [*NUMERIC, *CATEGORICAL]


def make_data(rows: int, seed: int) -> pd.DataFrame:
    """``rows`` rows of the features, the same for the same seed."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.normal(i, 1 + i, rows) for i, name in enumerate(NUMERIC)})
    frame["region"] = rng.choice(["north", "south", "east", "west"], rows)
    frame["plan"] = rng.choice(["basic", "pro", "team"], rows)
    frame.loc[frame.index % 17 == 0, "x3"] = np.nan
    return frame


def train(frame: pd.DataFrame) -> Pipeline:
    """The pipeline, fitted on the features of ``frame`` (other columns are ignored)."""
    labels = ((frame["x1"].fillna(0) + (frame["plan"] == "pro") * 2) > 2).astype(int)
    pre = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )
    pipeline = Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=1000))])
    return pipeline.fit(frame[FEATURES], labels)
