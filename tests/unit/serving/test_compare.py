"""`modelship compare` without Triton: the rows it draws from a package's reference profile are
ones the packaged model takes (run here with onnxruntime), the same every run; agreement,
difference and shift are measured row by row and judged only against the bounds given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from modelship_serving.compare import Thresholds, judged, measure, reference_table
from modelship_serving.metadata import ModelMetadata
from modelship_serving.packaging.package import package_model
from modelship_serving.scoring.checks import load_model
from modelship_serving.scoring.scorers import InProcessScorer


def _packaged(trained: Any, name: str, tmp_path: Path) -> tuple[ModelMetadata, Path]:
    model = name.replace("_", "-")
    package_model(trained.model_path, trained.sample_path, model, "1", tmp_path / "repository")
    return load_model(tmp_path / "repository", model)


@pytest.mark.parametrize("which", ["mixed_classifier", "mixed_regressor", "iris_classifier"])
def test_reference_rows_are_rows_the_model_takes(
    which: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    metadata, model_file = _packaged(request.getfixturevalue(which), which, tmp_path)
    rows = reference_table(metadata, 300)
    assert list(rows.columns) == metadata.input_schema.column_names()
    assert rows.equals(reference_table(metadata, 300))
    scorer = InProcessScorer(model_file, metadata)
    outputs = scorer.score(rows)
    assert all(len(values) == 300 for values in outputs.values())
    for column in metadata.input_schema.columns:
        if column.kind == "numeric":
            profile = metadata.reference_profile.numeric[column.name]
            low, high = profile.histogram_edges[0], profile.histogram_edges[-1]
            assert rows[column.name].between(low, high).all()
        else:
            frequencies = metadata.reference_profile.categorical[column.name].frequencies
            assert set(rows[column.name]) <= set(frequencies)


def _metadata(request: pytest.FixtureRequest, which: str, tmp_path: Path) -> ModelMetadata:
    return _packaged(request.getfixturevalue(which), which, tmp_path)[0]


def test_classifier_agreement_and_its_verdict(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    metadata = _metadata(request, "mixed_classifier", tmp_path)
    stable = np.array(["yes"] * 90 + ["no"] * 10, dtype=object)
    candidate = np.array(["yes"] * 100, dtype=object)
    result = measure(metadata, stable, candidate)
    assert (result.agreement, result.rows, result.verdict) == (0.9, 100, None)
    assert judged(result, Thresholds(min_agreement=0.95)).verdict == "failed"
    assert judged(result, Thresholds(min_agreement=0.9)).verdict == "passed"
    assert judged(result, Thresholds(max_shift=0.1)).verdict is None, "no classifier bound"


def test_regressor_difference_and_shift(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    metadata = _metadata(request, "mixed_regressor", tmp_path)
    stable = np.random.default_rng(0).normal(100, 10, 1000)
    same = measure(metadata, stable, stable.copy())
    assert (same.mean_abs_diff, same.shift) == (0.0, 0.0)
    moved = measure(metadata, stable, stable + 15)
    assert moved.mean_abs_diff == pytest.approx(15)
    assert moved.shift is not None
    assert moved.shift > 0.25
    verdict = judged(moved, Thresholds(max_mean_abs_diff=20, max_shift=0.25))
    assert verdict.verdict == "failed"
    assert "shift" in verdict.summary
    assert "mean |difference|" not in verdict.summary.split(": failed")[1]
