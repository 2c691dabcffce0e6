"""More everyday models and inputs (tests/support/everyday_models.py), packaged with the
`modelship package` command as a new user would: each either ships (converted in float32, by
the float64 retry, or as its pinned pickle) and the package answers like the original on
held-out rows, labels of the same type included, or is refused in one line with nothing left
behind; never a traceback."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from modelship_serving.errors import ParityError
from modelship_serving.metadata import InputSchema, ModelMetadata
from modelship_serving.packaging.fallback import PickledScorer
from modelship_serving.packaging.parity import check_parity, onnx_session, run_onnx
from modelship_serving.packaging.schema import schema_from_sample
from support import model_zoo
from support.everyday_models import CASES

CASE_BY_NAME = {case.name: case for case in CASES}


@pytest.mark.parametrize("case_name", list(CASE_BY_NAME))
def test_everyday_model_ships_like_the_original_or_is_refused_in_one_line(
    case_name: str, tmp_path: Path
) -> None:
    case = CASE_BY_NAME[case_name]
    if case.library is not None and importlib.util.find_spec(case.library) is None:
        pytest.skip(f"{case.library} is not installed (the boosting extra)")
    fitted = case.build()

    result = fitted.package_with_cli(tmp_path)

    if case.outcome == "refused":
        assert result.exit_code == 1
        assert isinstance(result.exception, SystemExit), result.exception  # no traceback
        message = result.output.strip()
        assert message.startswith("Error: ")
        assert "\n" not in message
        assert case.refusal in message
        assert sorted(path.name for path in tmp_path.iterdir()) == [
            "model.joblib",
            "sample.parquet",
        ]
        return
    assert result.exit_code == 0, result.output
    metadata = ModelMetadata.read(tmp_path / "repo/m/modelship.json")
    assert metadata.parity is not None
    if case.outcome == "fallback":
        assert metadata.source_format == "pickle"
        assert "fallback: no converter carries this model" in result.output
        outputs = PickledScorer(tmp_path / "repo/m" / metadata.model_file, metadata).score(
            fitted.held_out
        )
    else:
        assert metadata.source_format == "sklearn"
        assert metadata.parity.precision == case.outcome
        session = onnx_session((tmp_path / "repo/m/1/model.onnx").read_bytes())
        outputs = run_onnx(session, fitted.held_out, metadata.input_schema)
    expected = model_zoo.expected_answers(fitted.model, fitted.held_out)
    model_zoo.assert_answers_like_original(metadata, outputs, expected)


def _bool_label_model() -> tuple[Any, pd.DataFrame, InputSchema]:
    fitted = CASE_BY_NAME["bool-label"].build()
    schema = schema_from_sample(fitted.sample, list(fitted.sample.columns))
    return fitted.model, fitted.sample, schema


def test_parity_refuses_labels_of_another_kind_even_when_equal_as_numbers() -> None:
    model, sample, schema = _bool_label_model()

    def served(frame: pd.DataFrame) -> dict[str, np.ndarray[Any, Any]]:
        return {"label": model.predict(frame).astype(np.int64)}  # True served as 1

    with pytest.raises(ParityError, match="gives numeric labels, the original bool"):
        check_parity(model, served, sample, schema, "classification")


def test_parity_refuses_an_output_that_is_not_one_row_per_input_row() -> None:
    model, sample, schema = _bool_label_model()

    def served(frame: pd.DataFrame) -> dict[str, np.ndarray[Any, Any]]:
        stacked = np.stack([model.predict_proba(frame)] * 2)  # [outputs, rows, classes]
        return {"label": model.predict(frame), "probabilities": stacked}

    with pytest.raises(ParityError, match="'probabilities' is not one row per input row"):
        check_parity(model, served, sample, schema, "classification")


def test_a_parity_failure_shows_what_the_package_answers_whichever_serves_it() -> None:
    # The pinned pickle's answers were shown as "onnx [...]".
    model, sample, schema = _bool_label_model()

    def served(frame: pd.DataFrame) -> dict[str, np.ndarray[Any, Any]]:
        return {"label": ~model.predict(frame), "probabilities": model.predict_proba(frame)}

    first = bool(model.predict(sample.iloc[:1])[0])
    with pytest.raises(ParityError, match=f"row 0: original {first!r} packaged {not first!r}"):
        check_parity(model, served, sample, schema, "classification")
