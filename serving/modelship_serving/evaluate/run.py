"""One evaluation: fetch the models, read and check the holdout, score, measure, report."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from modelship_serving.evaluate import EvaluationError
from modelship_serving.evaluate.holdout import (
    ModelAnswers,
    check_holdout,
    check_one_answer_per_row,
    first_labels,
    local_table,
    score_holdout,
)
from modelship_serving.evaluate.labels import predicted_codes, true_values
from modelship_serving.evaluate.metrics import (
    MetricValues,
    Task,
    classification_metrics,
    metrics_for,
    parse_metric_names,
    regression_metrics,
)
from modelship_serving.evaluate.models import FetchLimits, PackagedModel, fetch_model
from modelship_serving.evaluate.report import Evaluation, ModelResult
from modelship_serving.scoring.formats import TableFormat


@dataclass(frozen=True)
class EvaluateSettings:
    """What `modelship evaluate` was asked."""

    candidate_uri: str
    data_uri: str
    label: str
    champion_uri: str | None = None
    metrics: str | None = None  # comma-separated; None: all of the task's
    data_format: TableFormat | None = None
    candidate_sha256: str | None = None
    champion_sha256: str | None = None
    limits: FetchLimits = field(default_factory=FetchLimits)


def _task(models: list[PackagedModel]) -> Task:
    tasks = {model.metadata.task for model in models}
    if len(tasks) > 1:
        kinds = {
            "classification": "classifier",
            "regression": "regressor",
            "unknown": "model of no known task",
        }
        described = ", ".join(
            f"{model.describe()} is a {kinds[model.metadata.task]}" for model in models
        )
        raise EvaluationError(
            f"the models do different tasks ({described}); compare like with like"
        )
    task = tasks.pop()
    if task == "unknown":
        raise EvaluationError(
            f"{models[0].describe()} records no task (neither classifier nor regressor), so no"
            " metric applies to it"
        )
    return task


def _metrics(
    task: Task,
    names: tuple[str, ...],
    model: PackagedModel,
    answers: ModelAnswers,
    labels: pd.Series,
    label: str,
) -> MetricValues:
    truth, notes = true_values(task, model, labels, label)
    if task == "regression":
        return regression_metrics(names, truth, answers.predicted.astype("float64"))
    # Labels are compared as codes of the model's classes: 0, 1, ... in its classes' order.
    codes = list(range(len(model.metadata.classes or [])))
    scores = answers.scores
    if scores is not None and scores.shape[1] != len(codes):
        scores = None  # not one score per class: nothing to rank by
    result = classification_metrics(
        names, truth, predicted_codes(answers.predicted, model), scores, codes
    )
    result.notes[:0] = notes
    return result


def evaluate(settings: EvaluateSettings) -> Evaluation:
    """Score the candidate (and the champion) on the holdout and measure each."""
    requested = parse_metric_names(settings.metrics)  # a typo fails before any download
    with tempfile.TemporaryDirectory(prefix="modelship-evaluate-") as scratch_name:
        scratch = Path(scratch_name)
        models = [
            fetch_model(
                "candidate",
                settings.candidate_uri,
                scratch,
                settings.candidate_sha256,
                settings.limits,
            )
        ]
        if settings.champion_uri is not None:
            models.append(
                fetch_model(
                    "champion",
                    settings.champion_uri,
                    scratch,
                    settings.champion_sha256,
                    settings.limits,
                )
            )
        task = _task(models)
        check_one_answer_per_row(models)
        names = metrics_for(task, requested)
        path, shown = local_table(settings.data_uri, settings.data_format, scratch)
        check_holdout(path, shown, settings.data_format, settings.label, models)
        # A wrong label column fails now, not after the whole table is scored.
        first = first_labels(path, settings.data_format, settings.label, task, models)
        for model in models:
            true_values(task, model, first, settings.label)
        scored = score_holdout(path, shown, settings.data_format, settings.label, task, models)
    results = [
        ModelResult(
            model.uri,
            model.describe(),
            _metrics(task, names, model, answers, scored.labels, settings.label),
        )
        for model, answers in zip(models, scored.answers, strict=True)
    ]
    return Evaluation(
        task=task,
        rows=scored.rows,
        label=settings.label,
        candidate=results[0],
        champion=results[1] if len(results) > 1 else None,
    )
