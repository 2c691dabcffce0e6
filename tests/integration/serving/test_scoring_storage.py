"""Batch scoring reads its input from and writes its output to S3 (moto server, IAM auth on):
output, drift report and manifest appear as objects only when the job is done, an existing
output is refused, and a crashed job resumes from its work directory. Committed chunks are kept
under a hidden prefix beside the output, so a rerun in a fresh process with an empty work
directory (a retried pod) resumes and scores each row exactly once; a crash between publishing
the output and its manifest is finished by the rerun, and a foreign output is never touched.
The same resume and clean-up hold for a GCS output (emulator)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from modelship_serving.errors import ScoringError
from modelship_serving.scoring import remote
from modelship_serving.scoring.job import ScoreSettings, run_scoring
from modelship_serving.scoring.scorers import InProcessScorer


@pytest.fixture
def s3(s3_environment: Any) -> Any:
    """A client of the moto server, with a bucket `batch`; the code under test finds the
    server and its credentials in the environment."""
    client = s3_environment.client()
    if "batch" not in [bucket["Name"] for bucket in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket="batch")
    return client


def crash_scoring_on_chunk(
    monkeypatch: pytest.MonkeyPatch, number: int, message: str
) -> Callable[[], None]:
    """Make in-process scoring raise on its ``number``-th chunk, as a lost pod would; the
    returned function puts the real scoring back."""
    original = InProcessScorer.score
    calls: list[int] = []

    def crash(self: InProcessScorer, chunk: pd.DataFrame) -> Any:
        calls.append(len(chunk))
        if len(calls) == number:
            raise RuntimeError(message)
        return original(self, chunk)

    monkeypatch.setattr(InProcessScorer, "score", crash)
    return lambda: monkeypatch.setattr(InProcessScorer, "score", original)


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
    restore_scoring = crash_scoring_on_chunk(monkeypatch, 3, "evicted")
    with pytest.raises(RuntimeError, match="evicted"):
        run_scoring(settings)
    listed = s3.list_objects_v2(Bucket="batch", Prefix="out/spend.csv").get("Contents", [])
    assert listed == []  # nothing visible before the job is done
    restore_scoring()
    manifest = run_scoring(settings)
    assert manifest.chunks_resumed == 2
    s3.download_file("batch", "out/spend.csv", str(tmp_path / "out.csv"))
    assert pd.read_csv(tmp_path / "out.csv")["row"].tolist() == list(range(len(frame)))


def keys(s3: Any, prefix: str) -> list[str]:
    return [
        item["Key"]
        for item in s3.list_objects_v2(Bucket="batch", Prefix=prefix).get("Contents", [])
    ]


def score_in_fresh_process(
    settings: ScoreSettings, scratch: Path
) -> subprocess.CompletedProcess[str]:
    """`modelship score` as a retried pod runs it: new process, empty HOME, TMPDIR and work dir."""
    scratch.mkdir()
    command = [
        str(Path(sys.executable).parent / "modelship"),
        "score",
        "--model-repo",
        str(settings.model_repo),
        "--model",
        settings.model,
        "--input",
        settings.input_uri,
        "--output",
        settings.output_uri,
        "--batch-size",
        str(settings.rows_per_chunk),
    ]
    environment = dict(os.environ, HOME=str(scratch), TMPDIR=str(scratch))
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)


def test_rerun_in_a_fresh_pod_resumes_from_the_chunks_beside_the_output(
    s3: Any, packaged: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository, served = packaged
    frame = pd.concat([served["churn"].held_out] * 10, ignore_index=True)  # 600 rows
    frame.to_csv(tmp_path / "in.csv", index=False)
    s3.upload_file(str(tmp_path / "in.csv"), "batch", "in/pod.csv")
    settings = ScoreSettings(
        model_repo=repository,
        model="churn",
        input_uri="s3://batch/in/pod.csv",
        output_uri="s3://batch/pod/scores.jsonl",
        rows_per_chunk=100,
        work_dir=tmp_path / "first-pod",
    )
    crash_scoring_on_chunk(monkeypatch, 4, "pod evicted")
    with pytest.raises(RuntimeError, match="pod evicted"):
        run_scoring(settings)
    assert keys(s3, "pod/scores") == []  # nothing published
    assert len([k for k in keys(s3, "pod/.scores.jsonl.partial/") if k.endswith(".parquet")]) == 3

    done = score_in_fresh_process(settings, tmp_path / "second-pod")
    assert done.returncode == 0, done.stderr
    manifest = json.loads(
        s3.get_object(Bucket="batch", Key="pod/scores.jsonl.manifest.json")["Body"].read()
    )
    assert (manifest["chunks_resumed"], manifest["rows_out"]) == (3, 600)
    s3.download_file("batch", "pod/scores.jsonl", str(tmp_path / "out.jsonl"))
    scored = pd.read_json(tmp_path / "out.jsonl", lines=True)
    assert scored["row"].tolist() == list(range(600))  # each row exactly once, in order
    assert scored["label"].tolist() == served["churn"].original.predict(frame).tolist()
    assert keys(s3, "pod/.scores.jsonl.partial/") == []  # cleaned up
    assert sorted(keys(s3, "pod/")) == [
        "pod/scores.jsonl",
        "pod/scores.jsonl.drift.json",
        "pod/scores.jsonl.manifest.json",
    ]


def test_crash_between_output_and_manifest_is_finished_by_the_rerun(
    s3: Any, packaged: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository, served = packaged
    frame = pd.concat([served["spend"].held_out] * 4, ignore_index=True)
    frame.to_parquet(tmp_path / "in.parquet", index=False)
    settings = ScoreSettings(
        model_repo=repository,
        model="spend",
        input_uri=str(tmp_path / "in.parquet"),
        output_uri="s3://batch/late/spend.parquet",
        rows_per_chunk=50,
        work_dir=tmp_path / "first-pod",
    )
    original_upload = remote.upload

    def crash_before_drift(source: Path, uri: str) -> None:
        if uri.endswith(".drift.json"):
            raise RuntimeError("node lost")
        original_upload(source, uri)

    monkeypatch.setattr(remote, "upload", crash_before_drift)
    with pytest.raises(RuntimeError, match="node lost"):
        run_scoring(settings)
    monkeypatch.setattr(remote, "upload", original_upload)
    assert keys(s3, "late/spend") == ["late/spend.parquet"]
    published = s3.get_object(Bucket="batch", Key="late/spend.parquet")["Body"].read()

    another_job = settings.model_copy(update={"rows_per_chunk": 70, "work_dir": tmp_path / "x"})
    with pytest.raises(ScoringError, match="not this job's"):
        run_scoring(another_job)

    done = score_in_fresh_process(settings, tmp_path / "second-pod")
    assert done.returncode == 0, done.stderr
    assert s3.get_object(Bucket="batch", Key="late/spend.parquet")["Body"].read() == published
    manifest = json.loads(
        s3.get_object(Bucket="batch", Key="late/spend.parquet.manifest.json")["Body"].read()
    )
    assert manifest["rows_out"] == len(frame)
    assert s3.head_object(Bucket="batch", Key="late/spend.parquet.drift.json")
    assert keys(s3, "late/.spend.parquet.partial/") == []


def test_a_foreign_output_without_manifest_is_refused(
    s3: Any, packaged: Any, tmp_path: Path
) -> None:
    repository, served = packaged
    served["spend"].held_out.to_csv(tmp_path / "in.csv", index=False)
    s3.put_object(Bucket="batch", Key="foreign/out.csv", Body=b"someone else's")
    with pytest.raises(ScoringError, match="not this job's"):
        run_scoring(
            ScoreSettings(
                model_repo=repository,
                model="spend",
                input_uri=str(tmp_path / "in.csv"),
                output_uri="s3://batch/foreign/out.csv",
                work_dir=tmp_path / "work",
            )
        )
    assert s3.get_object(Bucket="batch", Key="foreign/out.csv")["Body"].read() == b"someone else's"
    assert keys(s3, "foreign/") == ["foreign/out.csv"]


def test_gs_output_resumes_in_a_fresh_work_dir_and_cleans_up(
    gcs_emulator: str, packaged: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
    bucket = storage.Client(project="test", credentials=credentials).bucket("models")
    repository, served = packaged
    frame = pd.concat([served["wine"].held_out] * 4, ignore_index=True)
    frame.to_csv(tmp_path / "in.csv", index=False)
    settings = ScoreSettings(
        model_repo=repository,
        model="wine",
        input_uri=str(tmp_path / "in.csv"),
        output_uri="gs://models/scores/wine.csv",
        rows_per_chunk=60,
        work_dir=tmp_path / "first-pod",
    )
    restore_scoring = crash_scoring_on_chunk(monkeypatch, 3, "preempted")
    with pytest.raises(RuntimeError, match="preempted"):
        run_scoring(settings)
    restore_scoring()
    manifest = run_scoring(settings.model_copy(update={"work_dir": tmp_path / "second-pod"}))
    assert (manifest.chunks_resumed, manifest.rows_out) == (2, len(frame))
    bucket.blob("scores/wine.csv").download_to_filename(str(tmp_path / "out.csv"))
    scored = pd.read_csv(tmp_path / "out.csv")
    assert scored["row"].tolist() == list(range(len(frame)))
    assert scored["label"].tolist() == served["wine"].original.predict(frame).tolist()
    assert sorted(blob.name for blob in bucket.list_blobs(prefix="scores/")) == [
        "scores/wine.csv",
        "scores/wine.csv.drift.json",
        "scores/wine.csv.manifest.json",
    ]
