"""Checking that the converted ONNX model answers like the original scikit-learn model.

Labels must be equal row for row. Scores (class probabilities, decision scores
or a regressor's predictions) must satisfy ``|onnx - original| <= atol + rtol * |original|``
element-wise, the rule of ``numpy.isclose``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd

from modelship_serving.errors import PackagingError, ParityError, SampleError, one_line
from modelship_serving.metadata import InputSchema, ParityReport
from modelship_serving.packaging.schema import frame_to_feeds

DEFAULT_ABSOLUTE_TOLERANCE = 1e-4
DEFAULT_RELATIVE_TOLERANCE = 1e-3
_ROWS_SHOWN = 10
PARITY_FAILED = "the packaged model does not match the original on the sample; nothing was written"


class GraphRunError(SampleError):
    """The ONNX graph failed on the sample (for a converted model: the converter's fault)."""


def onnx_session(model: onnx.ModelProto | bytes) -> ort.InferenceSession:
    """An onnxruntime CPU session for ``model``, or a one-line PackagingError."""
    payload = model if isinstance(model, bytes) else model.SerializeToString()
    options = ort.SessionOptions()
    options.log_severity_level = 4  # fatal only: a failure is reported in one line instead
    try:
        return ort.InferenceSession(payload, options, providers=["CPUExecutionProvider"])
    except Exception as error:
        reason = one_line(error)
        raise PackagingError(
            f"onnxruntime {ort.__version__} cannot load the model ({reason}); check that the"
            " model's opsets and operators are ones this onnxruntime runs"
        ) from error


def takes_text_series(model: Any) -> bool:
    """Whether ``model`` was fitted on one text column given as a Series (a text vectorizer
    first), so it must be given a Series, not a one-column DataFrame."""
    from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer
    from sklearn.pipeline import Pipeline

    while isinstance(model, Pipeline):
        model = model.steps[0][1]
    return isinstance(model, (CountVectorizer, HashingVectorizer))


def model_inputs(model: Any, frame: pd.DataFrame, columns: list[str]) -> Any:
    """What the original model takes: ``frame``'s columns, or the one text column as a Series."""
    if takes_text_series(model):
        if len(columns) != 1:
            raise SampleError(
                f"the model was fitted on one text column (a Series) but the sample has"
                f" {len(columns)} columns ({', '.join(columns)}); give a sample with only that"
                " column"
            )
        return frame[columns[0]]
    return frame[columns]


def run_onnx(
    session: ort.InferenceSession, frame: pd.DataFrame, schema: InputSchema
) -> dict[str, np.ndarray[Any, Any]]:
    """Run ``session`` on ``frame``; outputs by name."""
    feeds = frame_to_feeds(frame, schema)
    try:
        values = session.run(None, feeds)
    except Exception as error:
        raise GraphRunError(f"the ONNX model failed on the sample: {one_line(error)}") from error
    return {output.name: value for output, value in zip(session.get_outputs(), values, strict=True)}


def _sklearn_scores(model: Any, frame: pd.DataFrame | pd.Series) -> np.ndarray[Any, Any] | None:
    if isinstance(getattr(model, "classes_", None), list):
        return None  # a multi-output classifier ships its labels only
    for method in ("predict_proba", "decision_function"):
        if hasattr(model, method):
            try:
                return np.asarray(getattr(model, method)(frame))
            except (AttributeError, NotImplementedError):
                continue
    return None


def _label_kind(labels: np.ndarray[Any, Any]) -> str:
    if labels.dtype.kind == "b":
        return "bool"
    return "text" if labels.dtype.kind in "OUS" else "numeric"


def original_predictions(model: Any, inputs: pd.DataFrame | pd.Series) -> np.ndarray[Any, Any]:
    """The original model's predictions, or a SampleError when it cannot take the sample."""
    try:
        return np.asarray(model.predict(inputs))
    except Exception as error:
        frame = inputs.to_frame() if isinstance(inputs, pd.Series) else inputs
        text_columns = [
            str(name) for name in frame.columns if not pd.api.types.is_numeric_dtype(frame[name])
        ]
        reason = one_line(error)
        raise SampleError(
            f"the original model fails on the sample ({type(error).__name__}: {reason}); check"
            " that the sample has the training columns with the training types (columns read"
            f" as text: {', '.join(text_columns) or 'none'}; a CSV sample reads number-like text"
            " such as codes as numbers, a Parquet sample keeps the training types)"
        ) from error


def check_parity(
    model: Any,
    served: Callable[[pd.DataFrame], dict[str, np.ndarray[Any, Any]]],
    frame: pd.DataFrame,
    schema: InputSchema,
    task: str,
    absolute_tolerance: float = DEFAULT_ABSOLUTE_TOLERANCE,
    relative_tolerance: float = DEFAULT_RELATIVE_TOLERANCE,
) -> ParityReport:
    """Compare the original with what ``served`` (the converted graph, or the pickle's runner)
    answers for ``frame``; ParityError lists differences."""
    inputs = model_inputs(model, frame, schema.column_names())
    expected_prediction = original_predictions(model, inputs)
    outputs = served(frame)
    output_values = [
        np.asarray(value) if isinstance(value, list) else value for value in outputs.values()
    ]
    problems: list[str] = []
    first = output_values[0]
    if first.shape[:1] != (len(frame),) or first.size != expected_prediction.size:
        # One prediction per row, as many values as the original gives: never a reshaped guess.
        raise ParityError(
            f"the packaged model gives {first.shape[0] if first.ndim else 0} predictions"
            f" of shape {list(first.shape)} for {len(frame)} rows, the original"
            f" {list(expected_prediction.shape)}; nothing was written"
        )
    for name, value in zip(outputs, output_values, strict=True):
        if value.shape[:1] != (len(frame),):
            # Triton batches by the first axis: anything else would be split across rows.
            raise ParityError(
                f"the packaged model's output {name!r} is not one row per input row (shape"
                f" {list(value.shape)} for {len(frame)} rows), which Triton cannot serve;"
                " nothing was written"
            )
    max_difference = 0.0
    labels_compared = False
    scores_compared = False
    row_labels = frame.index.to_numpy()

    def compare_scores(
        name: str, expected: np.ndarray[Any, Any], actual: np.ndarray[Any, Any]
    ) -> float:
        expected = expected.astype(np.float64).reshape(len(frame), -1)
        actual = actual.astype(np.float64).reshape(len(frame), -1)
        if expected.shape != actual.shape:
            if expected.shape[1] == 1 and actual.shape[1] == 2:  # binary decision scores
                actual = actual[:, 1:]
            else:
                problems.append(
                    f"{name}: shape {actual.shape} from ONNX but {expected.shape} from the original"
                )
                return float("inf")
        difference = np.abs(actual - expected)
        close = np.isclose(actual, expected, atol=absolute_tolerance, rtol=relative_tolerance)
        bad_rows = np.flatnonzero(~close.all(axis=1))
        if len(bad_rows):
            problems.append(
                f"{name}: {len(bad_rows)} of {len(frame)} rows differ beyond atol="
                f"{absolute_tolerance:g}, rtol={relative_tolerance:g}"
                f" (largest difference {difference.max():.6g})"
            )
            for row in bad_rows[:_ROWS_SHOWN]:
                problems.append(
                    f"  row {row_labels[row]}: original {np.round(expected[row], 6).tolist()}"
                    f" packaged {np.round(actual[row], 6).tolist()}"
                )
        return float(difference.max()) if difference.size else 0.0

    if task == "classification":
        labels_compared = True
        actual_labels = output_values[0].reshape(-1)
        expected_labels = expected_prediction.reshape(-1)
        kinds = _label_kind(actual_labels), _label_kind(expected_labels)
        if kinds[0] != kinds[1]:
            # True and 1 compare equal, yet a client would get 1 where the notebook says True.
            problems.append(
                f"labels: the packaged model gives {kinds[0]} labels, the original {kinds[1]}"
            )
            equal = np.ones(len(actual_labels), dtype=bool)
        elif kinds[0] == "text":
            equal = actual_labels.astype(str) == expected_labels.astype(str)
        else:
            equal = actual_labels == expected_labels
        bad_rows = np.flatnonzero(~equal)
        if len(bad_rows):
            problems.append(f"labels: {len(bad_rows)} of {len(frame)} rows differ")
            for row in bad_rows[:_ROWS_SHOWN]:
                problems.append(
                    f"  row {row_labels[row]}: original {expected_labels[row]!r}"
                    f" packaged {actual_labels[row]!r}"
                )
        expected_scores = _sklearn_scores(model, inputs)
        if expected_scores is not None and len(output_values) >= 2:
            scores_compared = True
            max_difference = compare_scores("scores", expected_scores, output_values[1])
    else:
        scores_compared = True
        max_difference = compare_scores("predictions", expected_prediction, output_values[0])
    if problems:
        raise ParityError(f"{PARITY_FAILED}: " + "; ".join(problem.strip() for problem in problems))
    return ParityReport(
        rows_checked=len(frame),
        labels_compared=labels_compared,
        scores_compared=scores_compared,
        absolute_tolerance=absolute_tolerance,
        relative_tolerance=relative_tolerance,
        max_absolute_difference=max_difference,
    )
