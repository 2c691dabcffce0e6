"""The holdout table: read as `modelship score` reads its input (csv, parquet or jsonl; a path,
file://, s3://, gs:// or http(s)://; streamed in chunks), checked against every model's schema
before anything is scored, then scored by every model, chunk by chunk, with the scorer
`modelship score` runs in-process (onnxruntime)."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelship_serving.errors import ModelshipServingError, SchemaMismatchError
from modelship_serving.evaluate import EvaluationError
from modelship_serving.evaluate.metrics import Task
from modelship_serving.evaluate.models import PackagedModel
from modelship_serving.fetch.uri import redact_uri
from modelship_serving.scoring.checks import check_input, read_dtypes, types_checked
from modelship_serving.scoring.destination import locate
from modelship_serving.scoring.formats import TableFormat, input_columns, read_chunks, table_format
from modelship_serving.scoring.scorers import InProcessScorer

Array = np.ndarray[Any, Any]
ROWS_PER_CHUNK = 50_000
_SHOWN_VALUES = 3


@dataclass
class ModelAnswers:
    """What one model answered for every row: labels (or a regressor's values) and, for a
    classifier that gives them, class scores in the order of its classes."""

    predicted: Array
    scores: Array | None


@dataclass
class ScoredHoldout:
    """The holdout's labels as read, and each model's answers, row for row."""

    labels: pd.Series
    answers: list[ModelAnswers] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.labels)


def local_table(uri: str, table: TableFormat | None, scratch: Path) -> tuple[Path, str]:
    """The holdout as a file on this machine (a download for s3, gs, http(s)) and its uri as
    shown, without user info or query string."""
    source = locate(uri)
    if table is None:
        table_format(Path(source.file_name))  # an unknown extension is refused first
    try:
        return source.folder.local_file(source.name, scratch / f"holdout-{source.file_name}"), (
            redact_uri(uri)
        )
    except FileNotFoundError as error:
        raise EvaluationError(f"holdout {source.show()} does not exist or is not a file") from error


def check_holdout(
    path: Path, shown: str, table: TableFormat | None, label: str, models: list[PackagedModel]
) -> None:
    """EvaluationError unless the holdout has rows, the label column and every model's columns
    (with their types, in its first rows)."""
    columns = input_columns(path, table)
    if columns and label not in columns:
        listed = ", ".join(columns[:20]) + (", ..." if len(columns) > 20 else "")
        raise EvaluationError(
            f"holdout {shown} has no label column {label!r} (its columns: {listed}); give"
            " --label the column that holds the true values"
        )
    for model in models:
        try:
            check_input(path, shown, table, model.metadata, None, ROWS_PER_CHUNK)
        except SchemaMismatchError as error:  # the model's columns; an empty table is no one's
            raise EvaluationError(f"{model.named()}: {error}") from error


def score_holdout(
    path: Path,
    shown: str,
    table: TableFormat | None,
    label: str,
    task: Task,
    models: list[PackagedModel],
) -> ScoredHoldout:
    """Every model's answers for every row of the holdout, and the label column."""
    dtypes: dict[str, Any] = {}
    for model in models:
        dtypes.update(read_dtypes(model.metadata))
    # Class labels are compared as the models give them: read as text, converted per model.
    text = (label,) if task == "classification" else ()
    labels: list[pd.Series] = []
    parts: list[list[dict[str, Array]]] = [[] for _ in models]
    with ExitStack() as stack:
        scorers = []
        for model in models:
            try:
                scorer = InProcessScorer(model.model_file, model.metadata)
            except ModelshipServingError as error:
                raise EvaluationError(f"{model.named()}: {error}") from error
            stack.callback(scorer.close)
            scorers.append(scorer)
        rows = 0
        for frame in read_chunks(path, ROWS_PER_CHUNK, dtypes, table, text):
            frame.index = pd.RangeIndex(rows, rows + len(frame))  # errors name the row
            where = f"{shown} rows {rows}-{rows + len(frame) - 1}"
            rows += len(frame)
            labels.append(frame[label])
            for scorer, model_parts in zip(scorers, parts, strict=True):
                with types_checked(where):
                    model_parts.append(scorer.score(frame))
    if not labels or rows == 0:
        raise EvaluationError(f"holdout {shown} has no rows; nothing was scored")
    scored = ScoredHoldout(pd.concat(labels, ignore_index=True))
    for model, model_parts in zip(models, parts, strict=True):
        scored.answers.append(_answers(model, model_parts))
    return scored


def _answers(model: PackagedModel, parts: list[dict[str, Array]]) -> ModelAnswers:
    by_role = {spec.role: spec.name for spec in reversed(model.metadata.outputs)}
    first = model.metadata.outputs[0].name
    predicted_name = by_role.get("label") or by_role.get("prediction") or first
    predicted = np.concatenate([part[predicted_name].reshape(-1) for part in parts])
    scores_name = by_role.get("scores")
    scores = None
    if scores_name is not None:
        scores = np.concatenate(
            [part[scores_name].reshape(len(part[predicted_name].reshape(-1)), -1) for part in parts]
        ).astype(np.float64)
    return ModelAnswers(predicted, scores)


def _shown(values: Any) -> str:
    """The first few of ``values``, for a message."""
    listed = list(values)
    more = ", ..." if len(listed) > _SHOWN_VALUES else ""
    return ", ".join(repr(value) for value in listed[:_SHOWN_VALUES]) + more


def check_no_missing_labels(labels: pd.Series, label: str) -> None:
    """EvaluationError when a row has no label."""
    missing = labels.isna()
    if missing.any():
        first = int(np.flatnonzero(missing.to_numpy())[0])
        raise EvaluationError(
            f"label column {label!r} is empty in {int(missing.sum())} row(s) (the first is row"
            f" {first}); drop the rows without a true value from the holdout"
        )


def numeric_labels(labels: pd.Series, label: str) -> Array:
    """A regressor's true values as float64; EvaluationError when the column holds text."""
    values = pd.to_numeric(labels, errors="coerce")
    text = labels[values.isna()]
    if len(text):
        raise EvaluationError(
            f"label column {label!r} holds text ({_shown(text)}), but the models are regressors:"
            " give the column of true numeric values"
        )
    return np.asarray(values, dtype=np.float64)


def class_labels(labels: pd.Series, label: str, model: PackagedModel) -> tuple[Array, list[str]]:
    """The true labels (read as text) as values of ``model``'s classes, and notes; an
    EvaluationError when they are of another type than its classes, or none is one of them."""
    classes = list(model.metadata.classes or [])
    if not classes:
        raise EvaluationError(f"{model.describe()} records no classes; package it again")
    if all(isinstance(value, str) for value in classes):
        truth = labels.astype(str).to_numpy(dtype=object)
    else:
        numbers = pd.to_numeric(labels, errors="coerce")
        not_whole = labels[numbers.isna() | (numbers != np.round(numbers))]
        if len(not_whole):
            raise EvaluationError(
                f"label column {label!r} holds {_shown(not_whole)}, but the classes of"
                f" {model.describe()} are integers ({_shown(classes)}): give the column of"
                " true classes"
            )
        truth = numbers.to_numpy(dtype=np.int64)
    known = np.isin(truth, np.asarray(classes, dtype=truth.dtype))
    if not known.any():
        raise EvaluationError(
            f"label column {label!r} holds none of the classes of {model.describe()}"
            f" ({_shown(classes)}) but {_shown(pd.unique(truth))}: give the column of"
            " true classes"
        )
    notes = []
    if not known.all():
        unknown = pd.unique(truth[~known])
        notes.append(
            f"{int((~known).sum())} row(s) hold labels the model does not know"
            f" ({_shown(unknown)}); they count as errors"
        )
    return truth, notes


def predicted_classes(predicted: Array, model: PackagedModel) -> Array:
    """A classifier's label output as values of its classes (text arrives as bytes or str)."""
    classes = list(model.metadata.classes or [])
    if classes and all(isinstance(value, str) for value in classes):
        return np.asarray(
            [value.decode() if isinstance(value, bytes) else str(value) for value in predicted],
            dtype=object,
        )
    return predicted.astype(np.int64)
