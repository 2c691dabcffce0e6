"""Batch scoring through the real Triton over gRPC, with several requests in flight, writes the
same predictions as scoring with onnxruntime in-process, for a classifier and a regressor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from modelship_serving.scoring.job import ScoreSettings, run_scoring
from modelship_serving.triton.server import TritonServer

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
