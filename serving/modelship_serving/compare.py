"""`modelship compare`: do two Triton endpoints serving one model answer a table alike?

The canary's prediction gate runs it before any user request reaches a new revision:
the same reference table goes to the stable and the candidate endpoint, and their
answers are compared. Classifiers: the share of rows whose predicted label agrees.
Regressors: the mean absolute difference of the predictions, and the shift of the
candidate's prediction distribution from stable's (PSI over stable's histogram, the
drift module's measure, so a shift reads like a drifted feature).

The table is a dataset given by uri, or, by default, rows drawn from the package's
reference profile (what `modelship package` recorded of its sample): each column from
its recorded histogram (uniform within a bin) or category shares, with a fixed seed, so
both endpoints and every rerun see the same rows. Columns are drawn independently: the
rows cover each feature's recorded range, not its correlations, which is enough to tell
two models apart but is no measure of accuracy.

The result is measured, not judged, unless thresholds are given: the operator judges
the measurements against the spec, so a threshold changed mid-gate needs no new run.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from modelship_serving.drift import BatchCounts, drift_report
from modelship_serving.errors import CompareError, ModelshipServingError, one_line
from modelship_serving.metadata import InputColumn, ModelMetadata
from modelship_serving.profile import ReferenceProfile, profile_frame
from modelship_serving.scoring.checks import check_columns, read_dtypes
from modelship_serving.scoring.formats import local_path, read_chunks
from modelship_serving.scoring.remote import download, is_remote, object_name
from modelship_serving.triton.client import infer_frame

DEFAULT_ROWS = 1000
SEED = 20_240_601
PREDICTION = "prediction"
Verdict = Literal["passed", "failed"]


class Thresholds(BaseModel):
    """Bounds a verdict is judged on; unset ones are not judged."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_agreement: float | None = None  # classifiers: share of rows whose labels agree
    max_mean_abs_diff: float | None = None  # regressors
    max_shift: float | None = None  # regressors: PSI of candidate's predictions vs stable's


class CompareResult(BaseModel):
    """What the comparison measured (the termination message, as JSON)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    task: str = Field(description="classification or regression.")
    rows: int = Field(description="Rows both endpoints answered.")
    agreement: float | None = Field(
        default=None, description="Share of rows whose labels agree (classifiers)."
    )
    mean_abs_diff: float | None = Field(
        default=None, alias="meanAbsDiff", description="Mean |candidate - stable| (regressors)."
    )
    shift: float | None = Field(
        default=None, description="PSI of candidate's predictions over stable's (regressors)."
    )
    verdict: Verdict | None = Field(default=None, description="Against the thresholds given.")
    summary: str = Field(description="The one-line summary.")

    def message(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)


@dataclass(frozen=True)
class CompareSettings:
    metadata: ModelMetadata
    stable_url: str  # host:port of Triton's HTTP endpoint
    candidate_url: str
    data_uri: str | None = None  # None: rows drawn from the reference profile
    rows: int = DEFAULT_ROWS
    thresholds: Thresholds = field(default_factory=Thresholds)


def compare(settings: CompareSettings) -> CompareResult:
    """Send the table to both endpoints and compare their answers."""
    metadata = settings.metadata
    if metadata.task not in ("classification", "regression"):
        raise CompareError(
            f"model {metadata.name} predicts {metadata.task!r} outputs: only classifiers and"
            " regressors can be compared"
        )
    table = (
        reference_table(metadata, settings.rows)
        if settings.data_uri is None
        else read_table(settings.data_uri, metadata, settings.rows)
    )
    stable = _answers(settings.stable_url, "stable", metadata, table)
    candidate = _answers(settings.candidate_url, "candidate", metadata, table)
    return judged(measure(metadata, stable, candidate), settings.thresholds)


def _answers(url: str, which: str, metadata: ModelMetadata, table: pd.DataFrame) -> Any:
    try:
        outputs = infer_frame(url, metadata, table, "http", model_version="")
    except ModelshipServingError:
        raise
    except Exception as error:  # tritonclient's and the socket's errors alike
        raise CompareError(
            f"the {which} endpoint {url} did not answer model {metadata.name}: {one_line(error)}"
        ) from error
    return outputs[_output(metadata)]


def _output(metadata: ModelMetadata) -> str:
    role = "label" if metadata.task == "classification" else "prediction"
    found = next((spec.name for spec in metadata.outputs if spec.role == role), None)
    if found is None:
        raise CompareError(f"model {metadata.name} records no {role} output to compare")
    return found


def measure(metadata: ModelMetadata, stable: Any, candidate: Any) -> CompareResult:
    """Agreement of labels, or difference and shift of predictions, row by row."""
    ours, theirs = np.asarray(stable).reshape(-1), np.asarray(candidate).reshape(-1)
    rows = len(ours)
    if metadata.task == "classification":
        agreement = float(np.mean(ours == theirs)) if rows else 1.0
        summary = f"labels agree on {agreement:.1%} of {rows} rows"
        return CompareResult(task=metadata.task, rows=rows, agreement=agreement, summary=summary)
    a, b = ours.astype(np.float64), theirs.astype(np.float64)
    difference = float(np.mean(np.abs(a - b))) if rows else 0.0
    shift = prediction_shift(a, b)
    summary = f"mean |difference| {difference:.4g}, shift (PSI) {shift:.3f} over {rows} rows"
    return CompareResult(
        task=metadata.task, rows=rows, mean_abs_diff=difference, shift=shift, summary=summary
    )


def prediction_shift(stable: Any, candidate: Any) -> float:
    """PSI of the candidate's predictions in the bins of stable's (the drift module's)."""
    reference = profile_frame(pd.DataFrame({PREDICTION: stable}), [PREDICTION], [])
    counts = BatchCounts.empty(reference)
    counts.add_frame(pd.DataFrame({PREDICTION: candidate}), reference)
    return drift_report(counts, reference).features[PREDICTION].psi


def judged(result: CompareResult, thresholds: Thresholds) -> CompareResult:
    """The result with a verdict where a threshold for its task is given."""
    checks = (
        (result.agreement, thresholds.min_agreement, "agreement", -1),
        (result.mean_abs_diff, thresholds.max_mean_abs_diff, "mean |difference|", 1),
        (result.shift, thresholds.max_shift, "shift", 1),
    )
    failures = [
        f"{name} {value:.4g} {'<' if sign < 0 else '>'} {bound:.4g}"
        for value, bound, name, sign in checks
        if value is not None and bound is not None and (value - bound) * sign > 0
    ]
    judges = (
        [thresholds.min_agreement]
        if result.task == "classification"
        else [thresholds.max_mean_abs_diff, thresholds.max_shift]
    )
    if all(bound is None for bound in judges):
        return result
    verdict: Verdict = "failed" if failures else "passed"
    summary = f"{result.summary}: {verdict}" + (f" ({'; '.join(failures)})" if failures else "")
    return result.model_copy(update={"verdict": verdict, "summary": summary})


def reference_table(metadata: ModelMetadata, rows: int, seed: int = SEED) -> pd.DataFrame:
    """``rows`` rows drawn from the package's reference profile, column by column."""
    rng = np.random.default_rng(seed)
    profile = metadata.reference_profile
    return pd.DataFrame(
        {
            column.name: _drawn(column, profile, rows, rng)
            for column in metadata.input_schema.columns
        }
    )


def _drawn(
    column: InputColumn, profile: ReferenceProfile, rows: int, rng: np.random.Generator
) -> Any:
    if column.kind == "categorical":
        shares = profile.categorical[column.name].frequencies
        if not shares:
            raise CompareError(
                f"the reference profile has no categories of column {column.name!r}: give a"
                " table with --data"
            )
        weights = np.asarray(list(shares.values()), dtype=np.float64)
        return rng.choice(list(shares), size=rows, p=weights / weights.sum())
    numeric = profile.numeric[column.name]
    counts = np.asarray(numeric.histogram_counts, dtype=np.float64)
    if not len(counts) or counts.sum() <= 0:
        raise CompareError(
            f"the reference profile has no values of column {column.name!r}: give a table"
            " with --data"
        )
    edges = np.asarray(numeric.histogram_edges, dtype=np.float64)
    bins = rng.choice(len(counts), size=rows, p=counts / counts.sum())
    values = rng.uniform(edges[bins], edges[bins + 1])
    if not column.source_dtype.startswith("float"):  # integers and booleans stay whole
        values = np.clip(np.round(values), math.ceil(edges[0]), math.floor(edges[-1]))
    return values


def read_table(uri: str, metadata: ModelMetadata, rows: int) -> pd.DataFrame:
    """The first ``rows`` rows of the table at ``uri`` (a path, file://, s3://, gs://,
    http(s)://), checked for the model's columns."""
    with tempfile.TemporaryDirectory(prefix="modelship-compare-") as work:
        path = local_path(uri) if not is_remote(uri) else Path(work) / object_name(uri)
        if is_remote(uri):
            download(uri, path)
        if not path.is_file():
            raise CompareError(f"data {uri} does not exist or is not a file")
        first = next(iter(read_chunks(path, rows, read_dtypes(metadata))), None)
    if first is None or first.empty:
        raise CompareError(f"data {uri} has no rows to compare on")
    check_columns([str(name) for name in first.columns], metadata, None)
    return first


def error_message(error: str) -> str:
    """The termination message of a run that could not measure."""
    return json.dumps({"error": error})
