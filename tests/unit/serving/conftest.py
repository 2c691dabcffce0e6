"""Tiny scikit-learn models and samples for the packaging tests (trained once per session)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


@dataclass(frozen=True)
class TrainedModel:
    """A fitted model on disk, with its training sample and held-out rows."""

    model: Any
    model_path: Path
    sample_path: Path
    held_out: pd.DataFrame


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


def _mixed_preprocessing(scale: bool) -> ColumnTransformer:
    numeric = make_pipeline(SimpleImputer(), StandardScaler()) if scale else SimpleImputer()
    return ColumnTransformer(
        [
            ("numeric", numeric, ["age", "income"]),
            ("category", OneHotEncoder(handle_unknown="ignore"), ["city", "plan"]),
        ]
    )


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def iris_classifier(models_dir: Path) -> TrainedModel:
    """Numeric columns only (with spaces and parentheses in their names)."""
    features, target = load_iris(return_X_y=True, as_frame=True)
    train, held_out = features.iloc[::2], features.iloc[1::2]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(train, target.iloc[::2])
    joblib.dump(model, models_dir / "iris.joblib")
    train.to_csv(models_dir / "iris.csv", index=False)
    return TrainedModel(model, models_dir / "iris.joblib", models_dir / "iris.csv", held_out)


@pytest.fixture(scope="session")
def mixed_classifier(models_dir: Path) -> TrainedModel:
    """Numeric and categorical columns, string labels, a ColumnTransformer."""
    train, held_out = mixed_frame(400, seed=1), mixed_frame(50, seed=2)
    labels = np.where((train["age"] > 45) | (train["plan"] == "pro"), "yes", "no")
    model = Pipeline(
        [("pre", _mixed_preprocessing(scale=True)), ("clf", LogisticRegression(max_iter=1000))]
    ).fit(train, labels)
    joblib.dump(model, models_dir / "mixed-classifier.pkl")
    train.to_parquet(models_dir / "mixed.parquet")
    return TrainedModel(
        model, models_dir / "mixed-classifier.pkl", models_dir / "mixed.parquet", held_out
    )


@pytest.fixture(scope="session")
def mixed_regressor(models_dir: Path) -> TrainedModel:
    """Numeric and categorical columns, a gradient-boosted regressor."""
    train, held_out = mixed_frame(400, seed=3), mixed_frame(50, seed=4)
    target = train["age"] * 2 + (train["city"] == "nice") * 10 + train["income"].fillna(0) / 1e4
    model = Pipeline(
        [
            ("pre", _mixed_preprocessing(scale=False)),
            ("reg", GradientBoostingRegressor(n_estimators=25, random_state=0)),
        ]
    ).fit(train, target)
    joblib.dump(model, models_dir / "mixed-regressor.pkl")
    train.to_csv(models_dir / "mixed.csv", index=False)
    return TrainedModel(
        model, models_dir / "mixed-regressor.pkl", models_dir / "mixed.csv", held_out
    )
