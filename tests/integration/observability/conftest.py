"""Fixtures: a packaged model with a text column (bad UTF-8 in it fails inside the backend,
which Triton counts as a failed request), and two real Tritons playing two revisions of one
ModelDeployment, on 127.0.0.2 and 127.0.0.3."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from modelship_serving.metadata import ModelMetadata
from modelship_serving.packaging.package import package_model
from modelship_serving.triton.server import TritonServer, TritonServerSettings
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from support.triton_revisions import ADDRESSES, REVISION_NAMES, TRITON_ARGS, Revision


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ModelMetadata]:
    work = tmp_path_factory.mktemp("observability")
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {"age": rng.integers(18, 80, 200).astype(float), "city": rng.choice(["paris", "lyon"], 200)}
    )
    labels = np.where(frame["age"] > 45, "yes", "no")
    model = Pipeline(
        [
            (
                "pre",
                ColumnTransformer(
                    [
                        ("age", "passthrough", ["age"]),
                        ("city", OneHotEncoder(handle_unknown="ignore"), ["city"]),
                    ]
                ),
            ),
            ("clf", LogisticRegression()),
        ]
    ).fit(frame, labels)
    joblib.dump(model, work / "churn.joblib")
    frame.to_csv(work / "churn.csv", index=False)
    result = package_model(
        work / "churn.joblib", work / "churn.csv", "churn", "1", work / "repository"
    )
    return work / "repository", result.metadata


@pytest.fixture(scope="module")
def revisions(packaged: tuple[Path, ModelMetadata]) -> Iterator[list[Revision]]:
    started: list[Revision] = []
    try:
        for name, address in zip(REVISION_NAMES, ADDRESSES, strict=True):
            server = TritonServer(
                TritonServerSettings(
                    repository=packaged[0], address=address, extra_args=TRITON_ARGS
                )
            )
            server.start()
            started.append(Revision(server, name, f"{name}-5c8d7f9b6-x2k4z"))
        yield started
    finally:
        for revision in started:
            revision.server.stop()
