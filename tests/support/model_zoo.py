"""Everyday models a data scientist hands to `modelship package`, each small and fitted on
seeded data: linear, trees and forests after preprocessing, gradient boosting with gaps, SVM,
kNN, MLP, TF-IDF text, anomaly detection, clustering, multi-class and multi-output, XGBoost,
LightGBM and CatBoost, and two no converter carries (shipped by the pinned pickle
fallback). Shared by the unit tests, the Triton tests and hack/bench (loaded by
path: tests run with --import-mode=importlib).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from click.testing import CliRunner, Result
from modelship.cli import main
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    IsolationForest,
    RandomForestClassifier,
)
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge, SGDClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.semi_supervised import LabelSpreading
from sklearn.svm import SVC, SVR, LinearSVC
from sklearn.tree import DecisionTreeClassifier

TRAIN_ROWS, HELD_OUT_ROWS = 300, 60


@dataclass(frozen=True)
class Fitted:
    """A fitted model, the sample it is packaged with, and rows it never saw."""

    model: Any
    sample: pd.DataFrame
    held_out: pd.DataFrame

    def write(self, model_path: Path, sample_path: Path) -> None:
        """The model as `modelship package` takes it (joblib) and the sample as Parquet,
        which keeps bool and text columns' types (CSV would not)."""
        joblib.dump(self.model, model_path)
        self.sample.to_parquet(sample_path)

    def package_with_cli(self, folder: Path) -> Result:
        """`modelship package` as a user runs it: the files written into ``folder``, packaged
        as model "m" version 1 into ``folder``/repo."""
        self.write(folder / "model.joblib", folder / "sample.parquet")
        return CliRunner().invoke(
            main,
            ["package", str(folder / "model.joblib"), "--sample", str(folder / "sample.parquet"),
             "--name", "m", "--version", "1", "--output", str(folder / "repo")],
        )  # fmt: skip


@dataclass(frozen=True)
class ZooCase:
    """One kind of model; ``library`` is the optional library it needs, if any."""

    name: str
    build: Callable[[], Fitted]
    library: str | None = None


def customers(rows: int, seed: int) -> pd.DataFrame:
    """Numeric columns (income with gaps), text categories and a bool."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, rows).astype(float),
            "income": rng.normal(50_000, 12_000, rows),
            "visits": rng.poisson(4, rows).astype(float),
            "city": rng.choice(["paris", "lyon", "nice"], rows),
            "premium": rng.random(rows) > 0.6,
        }
    )
    frame.loc[frame.index % 11 == 0, "income"] = np.nan
    return frame


def _churn(frame: pd.DataFrame) -> np.ndarray[Any, Any]:
    score = (frame["age"] > 50).astype(int) + frame["premium"] + (frame["city"] == "nice")
    return np.where(score >= 2, "churn", "stay")


def _spend(frame: pd.DataFrame) -> pd.Series:
    return (
        frame["age"] * 3
        + frame["income"].fillna(40_000) / 1_000
        + frame["visits"] * 5
        + (frame["city"] == "paris") * 20
    )


def _mixed(numeric: Any) -> ColumnTransformer:
    return ColumnTransformer(
        [
            ("numbers", numeric, ["age", "income", "visits"]),
            ("city", OneHotEncoder(handle_unknown="ignore"), ["city"]),
            ("premium", "passthrough", ["premium"]),
        ]
    )


def _tabular(model: Any, target: Callable[[pd.DataFrame], Any]) -> Fitted:
    train, held_out = customers(TRAIN_ROWS, 1), customers(HELD_OUT_ROWS, 2)
    return Fitted(model.fit(train, target(train)), train, held_out)


def _numeric(model: Any, target: Callable[[pd.DataFrame], Any]) -> Fitted:
    columns = ["age", "income", "visits"]
    train, held_out = customers(TRAIN_ROWS, 3), customers(HELD_OUT_ROWS, 4)
    train["income"] = train["income"].fillna(50_000)
    held_out["income"] = held_out["income"].fillna(50_000)
    return Fitted(model.fit(train[columns], target(train)), train[columns], held_out[columns])


def _scaled(estimator: Any) -> Any:
    return make_pipeline(StandardScaler(), estimator)


def _iris(model: Any) -> Fitted:
    features, target = load_iris(return_X_y=True, as_frame=True)
    names = np.array(["setosa", "versicolor", "virginica"])[target]
    return Fitted(
        model.fit(features.iloc[::2], names[::2]), features.iloc[::2], features.iloc[1::2]
    )


def events(rows: int, seed: int) -> pd.DataFrame:
    """Epoch-second timestamps on a 10 s grid: float32 (ulp 128 s near 1.7e9) cannot tell
    them apart, so float32 preprocessing flips the trees' splits."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "event_time": 1.7e9 + rng.integers(0, 200, rows) * 10.0,
            "amount": rng.gamma(2.0, 30.0, rows),
            "channel": rng.choice(["web", "app", "shop"], rows),
        }
    )


def _fraud(frame: pd.DataFrame) -> np.ndarray[Any, Any]:
    slot = ((frame["event_time"] - 1.7e9) // 10).astype(int)
    return np.where((slot % 2 == 0) ^ (frame["amount"] > 80), "fraud", "ok")


def _scaled_forest_on_timestamps() -> Fitted:
    """StandardScaler + RandomForest in a ColumnTransformer, the usual tabular pipeline."""
    train, held_out = events(TRAIN_ROWS, 5), events(HELD_OUT_ROWS, 6)
    preprocessing = ColumnTransformer(
        [
            ("numbers", make_pipeline(SimpleImputer(), StandardScaler()), ["event_time", "amount"]),
            ("channel", OneHotEncoder(handle_unknown="ignore"), ["channel"]),
        ]
    )
    model = Pipeline(
        [("pre", preprocessing), ("forest", RandomForestClassifier(30, random_state=0))]
    )
    return Fitted(model.fit(train, _fraud(train)), train, held_out)


REVIEW_WORDS = ["great", "awful", "fine", "Déçu", "love", "hate", "slow", "fast", "ok", "meh"]


def reviews(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(REVIEW_WORDS, rng.integers(3, 8))) for _ in range(rows)]
    return pd.DataFrame({"review": texts, "stars": rng.integers(1, 6, rows).astype(float)})


def _liked(frame: pd.DataFrame) -> np.ndarray[Any, Any]:
    text = frame["review"].str.lower()
    good = text.str.count("great|love|fast") - text.str.count("awful|hate|slow|déçu")
    return np.where(good > 0, "liked", "disliked")


def _tfidf_on_series() -> Fitted:
    train, held_out = reviews(TRAIN_ROWS, 7), reviews(HELD_OUT_ROWS, 8)
    model = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=500))
    model.fit(train["review"], _liked(train))
    return Fitted(model, train[["review"]], held_out[["review"]])


def _tfidf_in_column_transformer() -> Fitted:
    train, held_out = reviews(TRAIN_ROWS, 9), reviews(HELD_OUT_ROWS, 10)
    preprocessing = ColumnTransformer(
        [("text", TfidfVectorizer(), "review"), ("stars", StandardScaler(), ["stars"])]
    )
    model = Pipeline([("pre", preprocessing), ("clf", LogisticRegression(max_iter=500))])
    return Fitted(model.fit(train, _liked(train)), train, held_out)


def _unsupervised(model: Any) -> Fitted:
    rng = np.random.default_rng(11)
    train = pd.DataFrame({"x": rng.normal(size=TRAIN_ROWS), "y": rng.normal(size=TRAIN_ROWS)})
    held_out = pd.DataFrame({"x": rng.normal(size=HELD_OUT_ROWS) * 3, "y": rng.normal(size=60)})
    return Fitted(model.fit(train), train, held_out)


def _two_targets(frame: pd.DataFrame) -> np.ndarray[Any, Any]:
    return np.column_stack([frame["age"] * 2 + frame["visits"], frame["income"] / 1_000])


def _xgboost_native() -> Fitted:
    from xgboost import XGBClassifier

    columns = ["age", "income", "visits", "premium"]  # a pandas bool column, names with gaps
    train, held_out = customers(TRAIN_ROWS, 12), customers(HELD_OUT_ROWS, 13)
    model = XGBClassifier(n_estimators=20, max_depth=3)
    model.fit(train[columns], (_churn(train) == "churn").astype(int))
    return Fitted(model, train[columns], held_out[columns])


def _xgboost_in_pipeline() -> Fitted:
    from xgboost import XGBRegressor

    return _tabular(
        Pipeline([("pre", _mixed(SimpleImputer())), ("xgb", XGBRegressor(n_estimators=20))]),
        _spend,
    )


def _lightgbm_native() -> Fitted:
    from lightgbm import LGBMClassifier

    return _iris(LGBMClassifier(n_estimators=20, min_child_samples=5, verbose=-1))


def _lightgbm_in_pipeline() -> Fitted:
    from lightgbm import LGBMRegressor

    regressor = LGBMRegressor(n_estimators=20, verbose=-1)
    return _tabular(Pipeline([("pre", _mixed(SimpleImputer())), ("lgbm", regressor)]), _spend)


def _catboost_classifier() -> Fitted:
    from catboost import CatBoostClassifier

    classifier = CatBoostClassifier(iterations=30, depth=3, verbose=0, allow_writing_files=False)
    return _numeric(classifier, _churn)


def _catboost_regressor() -> Fitted:
    from catboost import CatBoostRegressor

    regressor = CatBoostRegressor(iterations=30, depth=3, verbose=0, allow_writing_files=False)
    return _numeric(regressor, _spend)


def _gapped_numbers() -> Any:
    return make_pipeline(SimpleImputer(), StandardScaler())


ZOO: list[ZooCase] = [
    ZooCase(
        "logistic-regression-mixed",
        lambda: _tabular(
            Pipeline([("pre", _mixed(_gapped_numbers())), ("clf", LogisticRegression())]), _churn
        ),
    ),
    ZooCase(
        "logistic-regression-multiclass", lambda: _iris(_scaled(LogisticRegression(max_iter=500)))
    ),
    ZooCase("ridge", lambda: _numeric(_scaled(Ridge()), _spend)),
    ZooCase("linear-regression-two-targets", lambda: _numeric(LinearRegression(), _two_targets)),
    ZooCase("sgd-classifier", lambda: _numeric(_scaled(SGDClassifier(random_state=0)), _churn)),
    ZooCase("svc-rbf-multiclass", lambda: _iris(_scaled(SVC()))),
    ZooCase("svr", lambda: _numeric(_scaled(SVR(C=100.0)), _spend)),
    ZooCase("knn-classifier", lambda: _iris(_scaled(KNeighborsClassifier(5)))),
    ZooCase("knn-regressor", lambda: _numeric(_scaled(KNeighborsRegressor(5)), _spend)),
    ZooCase(
        "mlp-classifier",
        lambda: _iris(_scaled(MLPClassifier((16,), max_iter=2000, random_state=0))),
    ),
    ZooCase("gaussian-naive-bayes", lambda: _iris(GaussianNB())),
    ZooCase(
        "decision-tree-after-imputer-scaler",
        lambda: _tabular(
            Pipeline(
                [("pre", _mixed(_gapped_numbers())), ("tree", DecisionTreeClassifier(max_depth=5))]
            ),
            _churn,
        ),
    ),
    ZooCase("random-forest-after-scaler-timestamps", _scaled_forest_on_timestamps),
    ZooCase(
        "extra-trees-after-imputer",
        lambda: _tabular(
            Pipeline(
                [
                    ("pre", _mixed(SimpleImputer())),
                    ("trees", ExtraTreesRegressor(20, random_state=0)),
                ]
            ),
            _spend,
        ),
    ),
    ZooCase(
        "gradient-boosting-after-imputer",
        lambda: _tabular(
            Pipeline(
                [
                    ("pre", _mixed(SimpleImputer())),
                    ("gb", GradientBoostingRegressor(n_estimators=25)),
                ]
            ),
            _spend,
        ),
    ),
    ZooCase(
        "hist-gradient-boosting-with-gaps",
        lambda: _numeric_with_gaps(HistGradientBoostingClassifier(max_iter=30), _churn),
    ),
    ZooCase(
        "hist-gradient-boosting-regressor-with-gaps",
        lambda: _numeric_with_gaps(HistGradientBoostingRegressor(max_iter=30), _spend),
    ),
    ZooCase(
        "isolation-forest", lambda: _unsupervised(IsolationForest(n_estimators=30, random_state=0))
    ),
    ZooCase("kmeans", lambda: _unsupervised(KMeans(4, n_init=3, random_state=0))),
    ZooCase("tfidf-on-a-series", _tfidf_on_series),
    ZooCase("tfidf-in-column-transformer", _tfidf_in_column_transformer),
    ZooCase("xgboost-native-bool-column", _xgboost_native, "xgboost"),
    ZooCase("xgboost-in-pipeline", _xgboost_in_pipeline, "xgboost"),
    ZooCase("lightgbm-native-multiclass", _lightgbm_native, "lightgbm"),
    ZooCase("lightgbm-in-pipeline", _lightgbm_in_pipeline, "lightgbm"),
    ZooCase("catboost-classifier", _catboost_classifier, "catboost"),
    ZooCase("catboost-regressor", _catboost_regressor, "catboost"),
    # A bool label (cast back from skl2onnx's int64) and exact vote ties among 20 trees.
    ZooCase(
        "random-forest-bool-label",
        lambda: _numeric(RandomForestClassifier(20, random_state=0), lambda f: f["age"] > 45),
    ),
    # skl2onnx's pipeline parser gave LinearSVC a zipmap option it lacks; converted now.
    ZooCase(
        "linear-svc-after-scaler-mixed",
        lambda: _tabular(
            Pipeline(
                [
                    ("pre", _mixed(make_pipeline(SimpleImputer(), StandardScaler()))),
                    ("svc", LinearSVC()),
                ]
            ),
            _churn,
        ),
    ),
    # No converter carries these: they ship as their pinned pickle (the fallback).
    ZooCase(
        "log-transform-then-ridge",
        lambda: _numeric(make_pipeline(FunctionTransformer(np.log1p), Ridge()), _spend),
    ),
    ZooCase("label-spreading", lambda: _numeric(_scaled(LabelSpreading()), _churn)),
]
SHIPPED_BY_FALLBACK = {"log-transform-then-ridge", "label-spreading"}


# Served by the real Triton binary in tests/integration/serving: the float64 retry (FP64
# inputs), text, gaps, anomaly detection, clustering, multi-output, the boosting libraries.
SERVED_BY_TRITON = [
    "random-forest-after-scaler-timestamps",
    "tfidf-on-a-series",
    "tfidf-in-column-transformer",
    "hist-gradient-boosting-with-gaps",
    "isolation-forest",
    "kmeans",
    "linear-regression-two-targets",
    "knn-classifier",
    "xgboost-native-bool-column",
    "lightgbm-in-pipeline",
    "catboost-classifier",
    "log-transform-then-ridge",
    "linear-svc-after-scaler-mixed",
    "label-spreading",
    "random-forest-bool-label",
]


def _numeric_with_gaps(model: Any, target: Callable[[pd.DataFrame], Any]) -> Fitted:
    """HistGradientBoosting takes NaN as is: no imputer."""
    columns = ["age", "income", "visits"]
    train, held_out = customers(TRAIN_ROWS, 14), customers(HELD_OUT_ROWS, 15)
    return Fitted(model.fit(train[columns], target(train)), train[columns], held_out[columns])


def expected_answers(model: Any, rows: pd.DataFrame) -> dict[str, np.ndarray[Any, Any]]:
    """What the original gives on ``rows``: its predictions, and class probabilities if any."""
    from modelship_serving.packaging.parity import model_inputs

    inputs = model_inputs(model, rows, [str(name) for name in rows.columns])
    answers = {"predict": np.asarray(model.predict(inputs))}
    if hasattr(model, "predict_proba"):
        # e.g. SVC(probability=False) has the attribute but refuses
        with contextlib.suppress(AttributeError):
            answers["predict_proba"] = np.asarray(model.predict_proba(inputs))
    return answers


def assert_answers_like_original(
    metadata: Any, outputs: dict[str, Any], expected: dict[str, np.ndarray[Any, Any]]
) -> None:
    """The package's ``outputs`` are the original's ``expected`` answers: the same labels (as
    text, so ``1`` is not ``True``) and probabilities, or predictions within parity's tolerance."""
    first = next(iter(outputs.values()))
    predicted = expected["predict"]
    assert first.shape[0] == len(predicted)
    if metadata.task == "regression":
        np.testing.assert_allclose(first.reshape(predicted.shape), predicted, rtol=1e-3, atol=1e-4)
        return
    assert first.reshape(-1).astype(str).tolist() == predicted.reshape(-1).astype(str).tolist()
    if "predict_proba" in expected and "probabilities" in outputs:
        np.testing.assert_allclose(outputs["probabilities"], expected["predict_proba"], atol=1e-4)
