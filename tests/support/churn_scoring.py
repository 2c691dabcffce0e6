"""Settings of a scoring run of the packaged "churn" model, as the serving tests write them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelship_serving.scoring.job import ScoreSettings


def churn_job(repo: Path, source: Path | str, output: Path | str, **options: Any) -> ScoreSettings:
    """Score `source` into `output` with model "churn" of `repo`, 100 rows a chunk."""
    return ScoreSettings(
        model_repo=repo,
        model="churn",
        input_uri=str(source),
        output_uri=str(output),
        rows_per_chunk=100,
        **options,
    )
