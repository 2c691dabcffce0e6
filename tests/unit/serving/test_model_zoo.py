"""Everyday models (tests/unit/serving/model_zoo.py) packaged by `modelship package`: each ships
(in float32, or by the float64 retry where float32 parity fails) and the packaged ONNX model
answers like the original on held-out rows; models of a missing optional library are refused
in one line, and every refusal leaves nothing behind."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import joblib
import numpy as np
import pytest
from modelship_serving.metadata import ModelMetadata
from modelship_serving.packaging.package import package_model
from modelship_serving.packaging.parity import onnx_session, run_onnx


def load_zoo() -> ModuleType:
    """model_zoo.py beside this file (tests run with --import-mode=importlib)."""
    name = "modelship_model_zoo"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("model_zoo.py")
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


zoo = load_zoo()
CASES = {case.name: case for case in zoo.ZOO}
# Where float32 preprocessing flips tree splits: the float64 retry must ship it.
SHIPPED_BY_FLOAT64_RETRY = {"random-forest-after-scaler-timestamps"}


def missing(library: str | None) -> bool:
    return library is not None and importlib.util.find_spec(library) is None


def assert_answers_like_original(
    metadata: ModelMetadata, outputs: dict[str, Any], expected: dict[str, Any]
) -> None:
    first = next(iter(outputs.values()))
    predicted = expected["predict"]
    assert first.shape[0] == len(predicted)
    if metadata.task == "regression":
        np.testing.assert_allclose(first.reshape(predicted.shape), predicted, rtol=1e-3, atol=1e-4)
        return
    assert first.reshape(-1).astype(str).tolist() == predicted.astype(str).tolist()
    if "predict_proba" in expected and "probabilities" in outputs:
        np.testing.assert_allclose(outputs["probabilities"], expected["predict_proba"], atol=1e-4)


@pytest.mark.parametrize("case_name", list(CASES))
def test_everyday_model_ships_and_answers_like_the_original(case_name: str, tmp_path: Path) -> None:
    case = CASES[case_name]
    if missing(case.library):
        pytest.skip(f"{case.library} is not installed (the boosting extra)")
    fitted = case.build()
    joblib.dump(fitted.model, tmp_path / "model.joblib")
    fitted.sample.to_parquet(tmp_path / "sample.parquet")  # keeps bool and text types

    result = package_model(
        tmp_path / "model.joblib", tmp_path / "sample.parquet", "m", "1", tmp_path / "repo"
    )

    metadata = result.metadata
    assert metadata.parity is not None
    expected_precision = "float64" if case_name in SHIPPED_BY_FLOAT64_RETRY else "float32"
    assert metadata.parity.precision == expected_precision
    numeric = [c.datatype for c in metadata.input_schema.columns if c.kind == "numeric"]
    assert set(numeric) <= {"FP64" if expected_precision == "float64" else "FP32"}
    session = onnx_session((result.model_dir / "1/model.onnx").read_bytes())
    outputs = run_onnx(session, fitted.held_out, metadata.input_schema)
    assert_answers_like_original(
        metadata, outputs, zoo.expected_answers(fitted.model, fitted.held_out)
    )
