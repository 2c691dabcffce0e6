"""The end-to-end demo: train a small pipeline, package it, serve it on Triton, ask it questions.

It uses scikit-learn's bundled wine data (no download) with one derived
categorical column, so the pipeline has real preprocessing: imputation,
scaling and one-hot encoding in a ColumnTransformer before a classifier.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from modelship_serving.metadata import Lineage

DEMO_MODEL_NAME = "wine"


def demo_data() -> tuple[pd.DataFrame, pd.Series]:
    """Wine features plus a categorical 'colour_band' column, and the cultivar label."""
    from sklearn.datasets import load_wine

    bunch = load_wine(as_frame=True)
    features = bunch.data.rename(columns=lambda name: name.replace("/", "_"))
    features["colour_band"] = pd.cut(
        features["color_intensity"], bins=[0, 3, 6, 100], labels=["pale", "medium", "deep"]
    ).astype(str)
    target = bunch.target.map(dict(enumerate(bunch.target_names)))
    return features, target


def train_demo_pipeline(features: pd.DataFrame, target: pd.Series) -> object:
    """Imputer + scaler for numbers, one-hot for the category, logistic regression on top."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [name for name in features.columns if name != "colour_band"]
    preprocessing = ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(), StandardScaler()), numeric),
            ("category", OneHotEncoder(handle_unknown="ignore"), ["colour_band"]),
        ]
    )
    pipeline = Pipeline(
        [("preprocessing", preprocessing), ("classifier", LogisticRegression(max_iter=2000))]
    )
    return pipeline.fit(features, target)


def run_demo(echo: Callable[[str], None] = print, rows: int = 6) -> str:
    """Train, package, serve on Triton, query over HTTP and gRPC, score in batch.

    Returns the packaged repository's sha256.
    """
    import joblib
    from sklearn.model_selection import train_test_split

    from modelship_serving.packaging.package import package_model
    from modelship_serving.triton.client import infer_frame
    from modelship_serving.triton.server import TritonServer, TritonServerSettings

    features, target = demo_data()
    train_x, test_x, train_y, _ = train_test_split(
        features, target, test_size=0.25, random_state=7, stratify=target
    )
    pipeline = train_demo_pipeline(train_x, train_y)
    echo(
        f"1. Trained a {type(pipeline).__name__} on {len(train_x)} wine rows"
        f" ({len(features.columns)} columns)."
    )
    with tempfile.TemporaryDirectory(prefix="modelship-demo-") as workdir:
        work = Path(workdir)
        joblib.dump(pipeline, work / "model.joblib")
        train_x.to_csv(work / "sample.csv", index=False)
        result = package_model(
            work / "model.joblib",
            work / "sample.csv",
            DEMO_MODEL_NAME,
            "1",
            work / "repository",
            Lineage(data_version="sklearn-wine", code_ref="modelship demo"),
        )
        echo(f"2. Packaged it: {result.model_dir} (parity checked on {len(train_x)} rows)")
        echo(f"   sha256 {result.repository_sha256}")
        started = time.monotonic()
        with TritonServer(TritonServerSettings(repository=work / "repository")) as server:
            assert server.endpoints is not None
            echo(
                f"3. Triton is up in {time.monotonic() - started:.1f}s:"
                f" HTTP {server.endpoints.http}, gRPC {server.endpoints.grpc}"
            )
            held_out = test_x.head(rows)
            expected = np.asarray(pipeline.predict(held_out))  # type: ignore[attr-defined]
            over_http = infer_frame(server.endpoints.http, result.metadata, held_out, "http")
            over_grpc = infer_frame(server.endpoints.grpc, result.metadata, held_out, "grpc")
            http_labels = over_http["label"].reshape(-1)
            grpc_labels = over_grpc["label"].reshape(-1)
            confidence = over_http["probabilities"].max(axis=1)
            echo(f"4. Predictions for {rows} held-out rows:")
            echo(
                f"   {'row':>5}  {'scikit-learn':<12}  {'Triton HTTP':<12}  {'Triton gRPC':<12}  p"
            )
            for index, row in enumerate(held_out.index):
                echo(
                    f"   {row:>5}  {expected[index]!s:<12}  {http_labels[index]!s:<12}"
                    f"  {grpc_labels[index]!s:<12}  {confidence[index]:.3f}"
                )
            agree = bool(
                (expected.astype(str) == http_labels.astype(str)).all()
                and (expected.astype(str) == grpc_labels.astype(str)).all()
            )
            echo("   all agree" if agree else "   MISMATCH between scikit-learn and Triton")
        echo("5. Triton stopped.")
        _score_in_batch(work, test_x, echo)
    if not agree:
        raise SystemExit(1)
    return result.repository_sha256


def _score_in_batch(work: Path, table: pd.DataFrame, echo: Callable[[str], None]) -> None:
    """Score the held-out table as a batch job would, then a drifted copy of it."""
    from modelship_serving.scoring.job import ScoreSettings, run_scoring

    shifted = table.assign(alcohol=table["alcohol"] + 1.5)
    for step, label, frame in (
        ("6.", "held-out", table),
        ("  ", "drifted copy (alcohol + 1.5) of the", shifted),
    ):
        source = work / f"{label.split()[0]}.csv"
        frame.to_csv(source, index=False)
        manifest = run_scoring(
            ScoreSettings(
                model_repo=work / "repository",
                model=DEMO_MODEL_NAME,
                input_uri=str(source),
                output_uri=str(work / "scores" / f"{source.stem}.parquet"),
            )
        )
        drifted = ", ".join(manifest.drifted_features) or "none"
        echo(
            f"{step} Batch-scored the {label} table: {manifest.rows_out} of {manifest.rows_in} rows"
            f" written with a manifest; drifted features: {drifted}"
        )
