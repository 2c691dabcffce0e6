"""Writing a test table in the format its file extension names, as `modelship score` and
`modelship evaluate` read it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """``frame`` at ``path``: .csv, .parquet, or JSON lines for any other extension."""
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True)
    return path
