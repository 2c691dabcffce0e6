"""The holdout table: read as `modelship score` reads its input (csv, parquet or jsonl; a path,
file://, s3://, gs://, az:// or http(s)://; streamed in chunks), checked against every model's
schema before anything is scored, then scored by every model, chunk by chunk, with the scorer
`modelship score` runs in-process (onnxruntime)."""

from __future__ import annotations

import math
from collections.abc import Iterator
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
from modelship_serving.metadata import ModelMetadata, TensorSpec
from modelship_serving.scoring.checks import (
    FIRST_ROWS_CHECKED,
    check_input,
    check_not_empty,
    read_dtypes,
    types_checked,
)
from modelship_serving.scoring.destination import locate
from modelship_serving.scoring.formats import TableFormat, input_columns, read_chunks, table_format
from modelship_serving.scoring.scorers import in_process_scorer

Array = np.ndarray[Any, Any]
ROWS_PER_CHUNK = 50_000


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
        path = source.folder.local_file(source.name, scratch / f"holdout-{source.file_name}")
    except FileNotFoundError as error:
        raise EvaluationError(f"holdout {source.show()} does not exist or is not a file") from error
    return path, redact_uri(uri)


def check_holdout(
    path: Path, shown: str, table: TableFormat | None, label: str, models: list[PackagedModel]
) -> None:
    """EvaluationError unless the holdout has rows, the label column and every model's columns
    (with their types, in its first rows)."""
    check_not_empty(path, f"holdout {shown}", "nothing was evaluated")
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


def _chunks(
    path: Path,
    table: TableFormat | None,
    label: str,
    task: Task,
    models: list[PackagedModel],
    rows_per_chunk: int,
) -> Iterator[pd.DataFrame]:
    dtypes: dict[str, Any] = {}
    for model in models:
        dtypes.update(read_dtypes(model.metadata))
    # Class labels are compared as the models give them: read as text, converted per model.
    text = (label,) if task == "classification" else ()
    return read_chunks(path, rows_per_chunk, dtypes, table, text)


def first_labels(
    path: Path, table: TableFormat | None, label: str, task: Task, models: list[PackagedModel]
) -> pd.Series:
    """The label column's first rows, read as :func:`score_holdout` reads it, to check before
    the whole table is scored."""
    first = next(_chunks(path, table, label, task, models, FIRST_ROWS_CHECKED), None)
    return pd.Series([], dtype=object) if first is None else first[label]


def score_holdout(
    path: Path,
    shown: str,
    table: TableFormat | None,
    label: str,
    task: Task,
    models: list[PackagedModel],
) -> ScoredHoldout:
    """Every model's answers for every row of the holdout, and the label column."""
    labels: list[pd.Series] = []
    parts: list[list[dict[str, Array]]] = [[] for _ in models]
    with ExitStack() as stack:
        scorers = []
        for model in models:
            try:
                scorer = in_process_scorer(model.model_file, model.metadata)
            except ModelshipServingError as error:
                raise EvaluationError(f"{model.named()}: {error}") from error
            stack.callback(scorer.close)
            scorers.append(scorer)
        rows = 0
        for frame in _chunks(path, table, label, task, models, ROWS_PER_CHUNK):
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


def predicted_output(metadata: ModelMetadata) -> TensorSpec:
    """The output measured against the label column: the label, or a regressor's value."""
    by_role = {spec.role: spec for spec in reversed(metadata.outputs)}
    return by_role.get("label") or by_role.get("prediction") or metadata.outputs[0]


def check_one_answer_per_row(models: list[PackagedModel]) -> None:
    """EvaluationError for a model of several outputs (two targets, or labels): one label
    column measures one answer per row."""
    for model in models:
        width = math.prod(predicted_output(model.metadata).dims)
        if width != 1:
            raise EvaluationError(
                f"{model.describe()} gives {width} answers per row (a model of several"
                " outputs), and --label is one column of true values: evaluate a model of one"
                " output (e.g. one per target, each packaged on its own)"
            )


def _answers(model: PackagedModel, parts: list[dict[str, Array]]) -> ModelAnswers:
    by_role = {spec.role: spec.name for spec in reversed(model.metadata.outputs)}
    predicted_name = predicted_output(model.metadata).name
    predicted = np.concatenate([part[predicted_name].reshape(-1) for part in parts])
    scores_name = by_role.get("scores")
    scores = None
    if scores_name is not None:
        scores = np.concatenate(
            [part[scores_name].reshape(len(part[predicted_name].reshape(-1)), -1) for part in parts]
        ).astype(np.float64)
    return ModelAnswers(predicted, scores)
