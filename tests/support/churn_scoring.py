"""Settings of a scoring run of a packaged model, as the serving tests write them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelship_serving.scoring.job import ScoreSettings


def score_settings(
    repo: Path, source: Path | str, output: Path | str, model: str = "churn", **options: Any
) -> ScoreSettings:
    """Score `source` into `output` with `model` of `repo`; `options` are further settings."""
    return ScoreSettings(
        model_repo=repo, model=model, input_uri=str(source), output_uri=str(output), **options
    )


def churn_job(repo: Path, source: Path | str, output: Path | str, **options: Any) -> ScoreSettings:
    """Score `source` into `output` with model "churn" of `repo`, 100 rows a chunk."""
    return score_settings(repo, source, output, rows_per_chunk=100, **options)
