"""Tiny scikit-learn models and samples for the packaging tests (trained once per session),
and `modelship score` as a batch Job runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from modelship.cli import main
from modelship_serving.packaging.package import package_model
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from support.sklearn_models import churn_classifier, mixed_frame, spend_regressor


@dataclass(frozen=True)
class TrainedModel:
    """A fitted model on disk, with its training sample and held-out rows."""

    model: Any
    model_path: Path
    sample_path: Path
    held_out: pd.DataFrame


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
    model = churn_classifier(train)
    joblib.dump(model, models_dir / "mixed-classifier.pkl")
    train.to_parquet(models_dir / "mixed.parquet")
    return TrainedModel(
        model, models_dir / "mixed-classifier.pkl", models_dir / "mixed.parquet", held_out
    )


@pytest.fixture(scope="session")
def mixed_regressor(models_dir: Path) -> TrainedModel:
    """Numeric and categorical columns, a gradient-boosted regressor."""
    train, held_out = mixed_frame(400, seed=3), mixed_frame(50, seed=4)
    model = spend_regressor(train)
    joblib.dump(model, models_dir / "mixed-regressor.pkl")
    train.to_csv(models_dir / "mixed.csv", index=False)
    return TrainedModel(
        model, models_dir / "mixed-regressor.pkl", models_dir / "mixed.csv", held_out
    )


def _packaged(model: TrainedModel, name: str, folder: Path) -> Path:
    repo = folder / "repo"
    package_model(model.model_path, model.sample_path, name, "1", repo)
    return repo


@pytest.fixture(scope="module")
def churn_repo(mixed_classifier: TrainedModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model repository holding mixed_classifier packaged as "churn" version 1."""
    return _packaged(mixed_classifier, "churn", tmp_path_factory.mktemp("churn"))


@pytest.fixture(scope="module")
def spend_repo(mixed_regressor: TrainedModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model repository holding mixed_regressor packaged as "spend" version 1."""
    return _packaged(mixed_regressor, "spend", tmp_path_factory.mktemp("spend"))


def run_score_cli(repo: Path, model: str, source: Path, output: Path, *options: str) -> Result:
    """`modelship score` of `source` into `output` with `model` of the repository `repo`."""
    arguments = ["score", "--model-repo", str(repo), "--model", model]
    arguments += ["--input", str(source), "--output", str(output), *options]
    return CliRunner().invoke(main, arguments)


@pytest.fixture
def score_cli() -> Callable[..., Result]:
    return run_score_cli
