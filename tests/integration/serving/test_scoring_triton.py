"""Batch scoring through the real Triton over gRPC, with several requests in flight, writes the
same predictions as scoring with onnxruntime in-process, for a classifier and a regressor; and
shards of a partitioned dataset scored through Triton give each row's prediction once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from modelship_serving.scoring.job import ScoreSettings, run_scoring
from modelship_serving.triton.server import TritonServer
from support.datasets import assert_predictions, read_dataset_output, write_dataset

pytestmark = pytest.mark.triton


@pytest.mark.parametrize("name", ["churn", "spend", "wine"])
def test_triton_path_equals_in_process(
    name: str, packaged: Any, triton: TritonServer, tmp_path: Path
) -> None:
    repository, served = packaged
    held_out = served[name].held_out
    frame = pd.concat([held_out] * 7, ignore_index=True)  # several chunks and requests
    frame.to_parquet(tmp_path / "in.parquet", index=False)
    assert triton.endpoints is not None
    common = {
        "model_repo": repository,
        "model": name,
        "input_uri": str(tmp_path / "in.parquet"),
        "rows_per_chunk": 97,
    }
    local = run_scoring(ScoreSettings(**common, output_uri=str(tmp_path / "local.parquet")))
    remote = run_scoring(
        ScoreSettings(
            **common,
            output_uri=str(tmp_path / "triton.parquet"),
            triton_url=triton.endpoints.grpc,
            rows_per_request=16,
            concurrency=4,
        )
    )
    assert "Triton gRPC" in remote.scorer
    assert local.rows_out == remote.rows_out == len(frame)
    in_process = pd.read_parquet(tmp_path / "local.parquet")
    via_triton = pd.read_parquet(tmp_path / "triton.parquet")
    assert list(in_process.columns) == list(via_triton.columns)
    for column in in_process.columns:
        if in_process[column].dtype.kind in "fc":
            np.testing.assert_allclose(via_triton[column], in_process[column], rtol=1e-6)
        else:
            assert via_triton[column].tolist() == in_process[column].tolist()


def test_shards_of_a_dataset_score_through_triton(
    packaged: Any, triton: TritonServer, tmp_path: Path
) -> None:
    """`--triton` with a partitioned dataset and two shards: every row's prediction, once."""
    repository, served = packaged
    expected = write_dataset(tmp_path / "in", ".parquet", [90, 60, 45])
    assert triton.endpoints is not None
    settings = ScoreSettings(
        model_repo=repository,
        model="churn",
        input_uri=str(tmp_path / "in"),
        output_uri=f"{tmp_path / 'out'}/",
        rows_per_chunk=40,
        triton_url=triton.endpoints.grpc,
        rows_per_request=16,
        shards=2,
    )
    first = run_scoring(settings.model_copy(update={"shard_index": 1}))
    assert first.shards_committed == 1
    assert not (tmp_path / "out").exists()
    published = run_scoring(settings.model_copy(update={"shard_index": 0}))
    assert "Triton gRPC" in published.scorer
    assert_predictions(read_dataset_output(tmp_path / "out"), expected, served["churn"].original)
