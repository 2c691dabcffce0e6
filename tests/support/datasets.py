"""Hive-partitioned test datasets for `modelship score`, and the check that a scored
dataset holds exactly the model's prediction for each input row."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from modelship_serving.scoring.shard_output import DATASET_MANIFEST

from support.sklearn_models import customer_rows as rows
from support.tables import write_table

PARTITIONS = [("eu", "1"), ("eu", "2"), ("us", "1"), ("us%2Fwest", "3")]


def write_dataset(root: Path, extension: str, sizes: list[int]) -> pd.DataFrame:
    """A hive-partitioned dataset (region=/day=) of ``sizes`` rows per file, with a hidden
    and an underscore file that must be skipped; the rows with their file and keys."""
    frames = []
    for number, size in enumerate(sizes):
        region, day = PARTITIONS[number % len(PARTITIONS)]
        folder = root / f"region={region}" / f"day={day}"
        folder.mkdir(parents=True, exist_ok=True)
        frame = rows(size, seed=number)
        name = f"region={region}/day={day}/part-{number}{extension}"
        write_table(frame, root / name)
        frames.append(
            frame.assign(
                input_file=name, region=region.replace("%2F", "/"), day=day, row=range(size)
            )
        )
    (root / "_SUCCESS").write_text("")
    (root / ".part-0.crc").write_text("not a table")
    return pd.concat(frames, ignore_index=True)


def read_any(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype={"day": str})
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_json(path, lines=True, dtype={"day": str})


def read_dataset_output(folder: Path) -> pd.DataFrame:
    manifest = json.loads((folder / DATASET_MANIFEST).read_text())
    return pd.concat([read_any(folder / part) for part in manifest["parts"]], ignore_index=True)


def assert_predictions(scored: pd.DataFrame, expected: pd.DataFrame, model: Any) -> None:
    """One output row per input row, each with its file, keys, row number and the model's
    prediction for it."""
    assert len(scored) == len(expected)
    keyed = scored.set_index(["input_file", "row"]).sort_index()
    inputs = expected.set_index(["input_file", "row"]).sort_index()
    assert keyed.index.is_unique
    assert keyed.index.equals(inputs.index)
    assert keyed["region"].astype(str).tolist() == inputs["region"].tolist()
    assert keyed["day"].astype(str).tolist() == inputs["day"].tolist()
    features = inputs.drop(columns=["region", "day"]).reset_index(drop=True)
    assert keyed["label"].astype(str).tolist() == model.predict(features).tolist()
