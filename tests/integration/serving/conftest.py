"""Fixtures for the real-Triton and fetch tests: tiny trained pipelines, a packaged repository,
one tritonserver shared by the session (stopped at the end), and free ports on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from modelship_serving.metadata import ModelMetadata
from modelship_serving.packaging.package import package_model
from modelship_serving.triton.config import ModelConfigOptions
from modelship_serving.triton.server import TritonServer, TritonServerSettings
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_wine
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


@dataclass(frozen=True)
class ServedModel:
    """A packaged model, the original it came from, and rows it never saw."""

    original: Any
    metadata: ModelMetadata
    held_out: pd.DataFrame


def _mixed_frame(rows: int, seed: int) -> pd.DataFrame:
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


def _preprocessing(scale: bool) -> ColumnTransformer:
    numeric = make_pipeline(SimpleImputer(), StandardScaler()) if scale else SimpleImputer()
    return ColumnTransformer(
        [
            ("numeric", numeric, ["age", "income"]),
            ("category", OneHotEncoder(handle_unknown="ignore"), ["city", "plan"]),
        ]
    )


def _train_all() -> dict[str, tuple[Any, pd.DataFrame, pd.DataFrame]]:
    wine = load_wine(as_frame=True)
    wine_x = wine.data.rename(columns=lambda name: name.replace("/", "_"))
    wine_model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    wine_model.fit(wine_x.iloc[::2], wine.target.iloc[::2])

    train, held_out = _mixed_frame(400, 1), _mixed_frame(60, 2)
    labels = np.where((train["age"] > 45) | (train["plan"] == "pro"), "yes", "no")
    classifier = Pipeline(
        [("pre", _preprocessing(True)), ("clf", LogisticRegression(max_iter=1000))]
    ).fit(train, labels)

    target = train["age"] * 2 + (train["city"] == "nice") * 10 + train["income"].fillna(0) / 1e4
    regressor = Pipeline(
        [("pre", _preprocessing(False)), ("reg", GradientBoostingRegressor(n_estimators=25))]
    ).fit(train, target)
    return {
        "wine": (wine_model, wine_x.iloc[::2], wine_x.iloc[1::2]),
        "churn": (classifier, train, held_out),
        "spend": (regressor, train, held_out),
        # Packaged with --python-backend: served as written, no wrapping.
        "churn_py": (classifier, train, held_out),
    }


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, ServedModel]]:
    """A repository with a numeric classifier, a mixed classifier and a mixed regressor."""
    work = tmp_path_factory.mktemp("packaged")
    repository = work / "repository"
    served: dict[str, ServedModel] = {}
    for name, (model, train, held_out) in _train_all().items():
        joblib.dump(model, work / f"{name}.joblib")
        train.to_csv(work / f"{name}.csv", index=False)
        backend = "python" if name.endswith("_py") else "onnxruntime"
        result = package_model(
            work / f"{name}.joblib",
            work / f"{name}.csv",
            name,
            "1",
            repository,
            config_options=ModelConfigOptions(backend=backend),
        )
        served[name] = ServedModel(model, result.metadata, held_out)
    return repository, served


@pytest.fixture(scope="session")
def triton(packaged: tuple[Path, dict[str, ServedModel]]) -> Iterator[TritonServer]:
    """One real tritonserver on 127.0.0.1 for the whole session."""
    server = TritonServer(TritonServerSettings(repository=packaged[0]))
    server.start()
    try:
        yield server
    finally:
        server.stop()
