"""The metrics `modelship evaluate` reports, each scikit-learn's own function.

Classifiers: ``accuracy`` (accuracy_score); ``f1`` (f1_score: for two classes the positive
class is the model's second class, as scikit-learn's ``classes_`` orders them; for more, the
macro average over the classes present in the labels or the predictions, scikit-learn's
default); ``roc_auc`` (roc_auc_score: for two classes from the second class's score; for more,
one-vs-rest, macro-averaged, from the class probabilities); ``log_loss`` (log_loss over the
model's classes, from its probabilities). Regressors: ``rmse`` (root_mean_squared_error),
``mae`` (mean_absolute_error), ``r2`` (r2_score).

A metric that scikit-learn cannot define on this holdout (ROC AUC when it holds one class, a
log loss without probabilities) is None, with a note saying why, never an error.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import numpy as np

from modelship_serving.errors import one_line
from modelship_serving.evaluate import EvaluationError

Task = Literal["classification", "regression"]
METRICS: dict[Task, tuple[str, ...]] = {
    "classification": ("accuracy", "f1", "roc_auc", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}
# How far from 1 a row of probabilities may sum, and each lie outside [0, 1], (float32
# outputs) and still be probabilities.
_PROBABILITY_SUM_TOLERANCE = 1e-3

Array = np.ndarray[Any, Any]


@dataclass
class MetricValues:
    """The metrics of one model, in the order asked, and why any of them is None."""

    values: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def parse_metric_names(text: str | None) -> tuple[str, ...] | None:
    """The metric names in a comma-separated list, in order, without repeats; None for all of
    the task's. EvaluationError for a name that is no metric of any task."""
    if text is None:
        return None
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    if not names:
        raise EvaluationError("--metrics is empty; name at least one metric, or leave it out")
    known = [name for task_names in METRICS.values() for name in task_names]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise EvaluationError(
            f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(known)}"
        )
    return names


def metrics_for(task: Task, requested: tuple[str, ...] | None) -> tuple[str, ...]:
    """The metrics to compute for a model of ``task``; EvaluationError for one that the task
    does not define (roc_auc of a regressor)."""
    defined = METRICS[task]
    if requested is None:
        return defined
    undefined = [name for name in requested if name not in defined]
    if undefined:
        raise EvaluationError(
            f"metric(s) {', '.join(undefined)} are not defined for {task}; the models are"
            f" {task} models, whose metrics are {', '.join(defined)}"
        )
    return requested


def _measured(name: str, compute: Callable[[], float], into: MetricValues) -> None:
    """Record ``compute()`` as ``name``, or None with a note when scikit-learn cannot define
    it here (it raises, warns that the value is undefined, or returns NaN)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value: float | None = float(compute())
            reason = "; ".join(
                dict.fromkeys(" ".join(str(warning.message).split()) for warning in caught)
            )
        except ValueError as error:
            value, reason = None, one_line(error)
    if value is not None and not math.isfinite(value):
        value = None
    if value is None:
        into.notes.append(f"{name} is null: {reason or 'scikit-learn gave no value'}")
    elif reason:
        into.notes.append(f"{name}: {reason}")
    into.values[name] = value


def are_probabilities(scores: Array) -> bool:
    """Whether every row of ``scores`` is a probability distribution (not decision scores)."""
    tolerance = _PROBABILITY_SUM_TOLERANCE  # a forest's float32 averages reach -1.2e-7, 1.0000001
    in_range = (scores >= -tolerance) & (scores <= 1 + tolerance)
    if scores.ndim != 2 or scores.shape[1] < 2 or not np.all(in_range):
        return False
    return bool(np.all(np.abs(scores.sum(axis=1) - 1) <= _PROBABILITY_SUM_TOLERANCE))


def classification_metrics(
    names: Sequence[str],
    truth: Array,
    predicted: Array,
    scores: Array | None,
    classes: Sequence[Any],
) -> MetricValues:
    """The classifier metrics ``names`` of predicted labels ``predicted`` and class scores
    ``scores`` (one column per class of ``classes``, in that order) against ``truth``."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    binary = len(classes) == 2
    result = MetricValues()
    no_scores = "the model gives no class scores"
    for name in names:
        if name == "accuracy":
            _measured(name, lambda: accuracy_score(truth, predicted), result)
        elif name == "f1":
            if binary:
                _measured(name, lambda: f1_score(truth, predicted, pos_label=classes[1]), result)
            else:
                _measured(name, lambda: f1_score(truth, predicted, average="macro"), result)
        elif name == "roc_auc":
            if scores is None:
                result.values[name] = None
                result.notes.append(f"{name} is null: {no_scores}")
            elif binary:
                # The second class's probability or decision score ranks the rows.
                _measured(name, partial(roc_auc_score, truth == classes[1], scores[:, -1]), result)
            else:
                _measured(
                    name,
                    lambda: roc_auc_score(
                        truth, scores, multi_class="ovr", average="macro", labels=list(classes)
                    ),
                    result,
                )
        elif name == "log_loss":
            if scores is None or not are_probabilities(scores):
                result.values[name] = None
                why = no_scores if scores is None else "the model gives decision scores"
                result.notes.append(f"{name} is null: {why}, not probabilities")
            else:
                _measured(name, partial(_log_loss, truth, scores, classes), result)
    return result


def _log_loss(truth: Array, probabilities: Array, classes: Sequence[Any]) -> float:
    from sklearn.metrics import log_loss

    with warnings.catch_warnings():
        # are_probabilities checked the sums at float32's precision, the model's; scikit-learn
        # checks them at that of the float64 copy and would warn of float32's rounding.
        warnings.filterwarnings("ignore", "The y_prob values do not sum to one", UserWarning)
        # Rounding may put a probability a hair outside [0, 1], which scikit-learn refuses.
        clipped = np.clip(probabilities, 0.0, 1.0)
        return float(log_loss(truth, clipped, labels=list(classes)))


def regression_metrics(names: Sequence[str], truth: Array, predicted: Array) -> MetricValues:
    """The regressor metrics ``names`` of ``predicted`` against ``truth``."""
    from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

    functions: dict[str, Callable[[Array, Array], Any]] = {
        "rmse": root_mean_squared_error,
        "mae": mean_absolute_error,
        "r2": r2_score,
    }
    result = MetricValues()
    for name in names:
        _measured(name, partial(functions[name], truth, predicted), result)
    return result
