"""The result of an evaluation as the validation Job reports it: a one-line summary for people,
and a compact JSON document, written where the kubelet reads the container's termination
message, for the operator:

    {"task": "classification", "rows": 500, "label": "churned",
     "candidate": {"uri": "s3://models/churn/v7", "metrics": {"accuracy": 0.93, ...}},
     "champion": {"uri": "s3://models/churn/v6", "metrics": {...}} | null}

A metric that could not be computed is null. The kubelet keeps at most 4096 bytes of a
termination message: the uris and the label, the only free-length parts, are shortened
(ending in "...") when the document would be longer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from modelship_serving.evaluate.metrics import MetricValues, Task

TERMINATION_MESSAGE_LIMIT = 4096
_ELLIPSIS = "..."


@dataclass(frozen=True)
class ModelResult:
    """One model's uri (without credentials), description and metrics."""

    uri: str
    description: str
    metrics: MetricValues


@dataclass(frozen=True)
class Evaluation:
    """The metrics of the candidate and (when given) the champion on one holdout."""

    task: Task
    rows: int
    label: str
    candidate: ModelResult
    champion: ModelResult | None

    def document(self) -> dict[str, Any]:
        """The JSON document, as a dict, in its full length."""

        def entry(result: ModelResult | None) -> dict[str, Any] | None:
            if result is None:
                return None
            return {"uri": result.uri, "metrics": dict(result.metrics.values)}

        return {
            "task": self.task,
            "rows": self.rows,
            "label": self.label,
            "candidate": entry(self.candidate),
            "champion": entry(self.champion),
        }

    def termination_message(self) -> str:
        """The document as compact JSON of at most TERMINATION_MESSAGE_LIMIT - 1 bytes."""
        document = self.document()
        text = _compact(document)
        # The free-length strings share what is left once everything else is counted.
        strings = [("label",)] + [
            (role, "uri") for role in ("candidate", "champion") if document[role] is not None
        ]
        fixed = _size(text) - sum(_size(_compact(_get(document, path))) for path in strings)
        share = (TERMINATION_MESSAGE_LIMIT - 1 - fixed) // len(strings)
        if _size(text) >= TERMINATION_MESSAGE_LIMIT:
            for path in strings:
                _set(document, path, _shortened(_get(document, path), share))
            text = _compact(document)
        return text

    def notes(self) -> list[str]:
        """Why any metric is null, and other remarks, one line each, per model."""
        results = [self.candidate] + ([self.champion] if self.champion else [])
        return [
            f"{result.description}: {note}" for result in results for note in result.metrics.notes
        ]

    def summary(self) -> str:
        """One line for people: each model's metrics, the rows and the label."""

        def shown(result: ModelResult) -> str:
            metrics = ", ".join(
                f"{name} {'n/a' if value is None else f'{value:.4g}'}"
                for name, value in result.metrics.values.items()
            )
            return f"{result.description} {metrics}"

        models = [shown(self.candidate)] + ([shown(self.champion)] if self.champion else [])
        return f"evaluated on {self.rows:,} rows (label {self.label!r}): {'; '.join(models)}"


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _get(document: dict[str, Any], path: tuple[str, ...]) -> str:
    value: Any = document
    for key in path:
        value = value[key]
    return str(value)


def _set(document: dict[str, Any], path: tuple[str, ...], text: str) -> None:
    target: Any = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = text


def _shortened(text: str, limit: int) -> str:
    """``text``, cut and ending in "..." when its JSON form is longer than ``limit`` bytes."""
    if _size(_compact(text)) <= limit:
        return text
    kept = text
    while _size(_compact(kept + _ELLIPSIS)) > limit and kept:
        # Strictly shorter each time: the JSON form of a character is 1 to 6 bytes.
        kept = kept[: len(kept) * limit // _size(_compact(kept + _ELLIPSIS))]
    return kept + _ELLIPSIS
