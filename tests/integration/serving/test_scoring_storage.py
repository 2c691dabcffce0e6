"""Batch scoring reads its input from and writes its output to S3 (moto server, IAM auth on):
output, drift report and manifest appear as objects only when the job is done, an existing
output is refused, and a crashed job resumes from its work directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from modelship_serving.errors import ScoringError
from modelship_serving.scoring.job import ScoreSettings, run_scoring
from modelship_serving.scoring.scorers import InProcessScorer


@pytest.fixture
def s3(s3_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    client = s3_server.client()
    if "batch" not in [bucket["Name"] for bucket in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket="batch")
    return client


def test_s3_in_s3_out(s3: Any, packaged: Any, tmp_path: Path) -> None:
    repository, served = packaged
    frame = pd.concat([served["churn"].held_out] * 5, ignore_index=True)
    frame.to_csv(tmp_path / "in.csv", index=False)
    s3.upload_file(str(tmp_path / "in.csv"), "batch", "in/day1.csv")
    settings = ScoreSettings(
        model_repo=repository,
        model="churn",
        input_uri="s3://batch/in/day1.csv",
        output_uri="s3://batch/out/day1.parquet",
        rows_per_chunk=100,
        work_dir=tmp_path / "work",
    )
    manifest = run_scoring(settings)
    assert manifest.rows_out == len(frame)
    s3.download_file("batch", "out/day1.parquet", str(tmp_path / "out.parquet"))
    scored = pd.read_parquet(tmp_path / "out.parquet")
    assert scored["label"].tolist() == served["churn"].original.predict(frame).tolist()
    stored = json.loads(
        s3.get_object(Bucket="batch", Key="out/day1.parquet.manifest.json")["Body"].read()
    )
    assert stored["rows_in"] == len(frame)
    assert s3.head_object(Bucket="batch", Key="out/day1.parquet.drift.json")
    assert not (tmp_path / "work").exists()
    with pytest.raises(ScoringError, match="already exists"):
        run_scoring(settings)


def test_s3_output_crash_and_resume(
    s3: Any, packaged: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository, served = packaged
    frame = pd.concat([served["spend"].held_out] * 10, ignore_index=True)
    frame.to_parquet(tmp_path / "in.parquet", index=False)
    settings = ScoreSettings(
        model_repo=repository,
        model="spend",
        input_uri=str(tmp_path / "in.parquet"),
        output_uri="s3://batch/out/spend.csv",
        rows_per_chunk=100,
        work_dir=tmp_path / "work",
    )
    original = InProcessScorer.score
    calls: list[int] = []

    def crash_on_third(self: InProcessScorer, chunk: pd.DataFrame) -> Any:
        calls.append(len(chunk))
        if len(calls) == 3:
            raise RuntimeError("evicted")
        return original(self, chunk)

    monkeypatch.setattr(InProcessScorer, "score", crash_on_third)
    with pytest.raises(RuntimeError, match="evicted"):
        run_scoring(settings)
    listed = s3.list_objects_v2(Bucket="batch", Prefix="out/spend.csv").get("Contents", [])
    assert listed == []  # nothing visible before the job is done
    monkeypatch.setattr(InProcessScorer, "score", original)
    manifest = run_scoring(settings)
    assert manifest.chunks_resumed == 2
    s3.download_file("batch", "out/spend.csv", str(tmp_path / "out.csv"))
    assert pd.read_csv(tmp_path / "out.csv")["row"].tolist() == list(range(len(frame)))
