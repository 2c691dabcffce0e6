"""`modelship score` answers like the original for every model of the zoo and every everyday
model that ships (text, timestamps, gaps, bool, nullable and category columns, odd column names,
anomaly detection, clustering, several outputs, the boosting libraries, the pinned-pickle
fallback), from Parquet, CSV and JSON lines: each output row is the original's answer for its
input row. A classifier's second output is named ``probabilities``
only where the model has probabilities, and they lie in [0, 1]; decision scores are ``scores``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from modelship_serving.metadata import ModelMetadata
from modelship_serving.packaging.package import package_model
from modelship_serving.scoring.job import ScoreSettings, run_scoring
from support import model_zoo
from support.everyday_models import CASES as EVERYDAY
from support.tables import write_table

CASES: dict[str, Any] = {case.name: case for case in model_zoo.ZOO} | {
    case.name: case for case in EVERYDAY if case.outcome != "refused"
}
# Text, timestamps and bool columns are where the formats differ; every model reads Parquet.
EVERY_FORMAT = {
    "tfidf-in-column-transformer",
    "random-forest-after-scaler-timestamps",
    "xgboost-native-bool-column",
    "hist-gradient-boosting-with-gaps",
    "log-transform-then-ridge",
    "int64-int32-bool-columns",
    "nullable-int64-column-with-gaps",
    "category-dtype-column",
    "column-names-spaces-dots-unicode",
    "multi-output-classifier",
}


def outputs_of(scored: pd.DataFrame, metadata: ModelMetadata) -> dict[str, Any]:
    """The scored table's columns back as the package's outputs, [rows, width] each."""
    outputs = {}
    for spec in metadata.outputs:
        columns = [name for name in scored.columns if name == spec.name]
        columns = columns or [name for name in scored.columns if name.startswith(f"{spec.name}_")]
        outputs[spec.name] = scored[columns].to_numpy()
    return outputs


def zoo_cases() -> list[Any]:
    return [
        pytest.param(name, suffix, id=f"{name}{suffix}")
        for name in CASES
        for suffix in ([".parquet", ".csv", ".jsonl"] if name in EVERY_FORMAT else [".parquet"])
    ]


@pytest.mark.parametrize(("case_name", "suffix"), zoo_cases())
def test_every_zoo_model_scores_like_the_original(
    case_name: str, suffix: str, tmp_path: Path
) -> None:
    case = CASES[case_name]
    if case.library is not None and importlib.util.find_spec(case.library) is None:
        pytest.skip(f"{case.library} is not installed (the boosting extra)")
    fitted = case.build()
    fitted.write(tmp_path / "model.joblib", tmp_path / "sample.parquet")
    package_model(
        tmp_path / "model.joblib", tmp_path / "sample.parquet", "m", "1", tmp_path / "repo"
    )
    metadata = ModelMetadata.read(tmp_path / "repo/m/modelship.json")
    source = write_table(fitted.held_out, tmp_path / f"in{suffix}")

    manifest = run_scoring(
        ScoreSettings(
            model_repo=tmp_path / "repo",
            model="m",
            input_uri=str(source),
            output_uri=str(tmp_path / "out.parquet"),
            rows_per_chunk=25,  # several chunks
        )
    )

    scored = pd.read_parquet(tmp_path / "out.parquet")
    assert manifest.rows_out == len(scored) == len(fitted.held_out)
    assert scored["row"].tolist() == list(range(len(fitted.held_out)))
    outputs = outputs_of(scored, metadata)
    expected = model_zoo.expected_answers(fitted.model, fitted.held_out)
    model_zoo.assert_answers_like_original(metadata, outputs, expected)
    if metadata.task == "classification" and len(metadata.outputs) > 1:
        has_probabilities = "predict_proba" in expected
        assert [spec.name for spec in metadata.outputs] == [
            "label",
            "probabilities" if has_probabilities else "scores",
        ]
        if has_probabilities:
            # One column per class, named after the class as the model gives it (True, not 1).
            assert [name for name in scored.columns if name.startswith("probabilities_")] == [
                f"probabilities_{label}" for label in fitted.model.classes_
            ]
            assert ((outputs["probabilities"] >= 0) & (outputs["probabilities"] <= 1)).all()
            np.testing.assert_allclose(outputs["probabilities"].sum(axis=1), 1, atol=1e-4)
