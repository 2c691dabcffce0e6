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
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from modelship_serving.errors import FetchError, ScoringError
from modelship_serving.fetch.uri import parse_model_uri
from modelship_serving.scoring import remote
from modelship_serving.scoring.job import ScoreSettings, run_scoring
from modelship_serving.scoring.scorers import InProcessScorer
from modelship_serving.scoring.settings import DEFAULT_ROWS_PER_CHUNK
from modelship_serving.storage import objects


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


@dataclass(frozen=True)
class Job:
    """A scoring job over copies of a model's held-out rows, and what it should predict."""

    settings: ScoreSettings
    frame: pd.DataFrame
    original: Any  # the model the packaged one came from

    def assert_every_row_once_in_order(self, scored: pd.DataFrame) -> None:
        assert scored["row"].tolist() == list(range(len(self.frame)))
        assert scored["label"].tolist() == self.original.predict(self.frame).tolist()


JobFactory = Callable[..., Job]


@pytest.fixture
def held_out_job(packaged: Any, tmp_path: Path) -> JobFactory:
    """Jobs that score copies of a packaged model's held-out rows."""
    repository, served = packaged

    def make(
        model: str,
        copies: int,
        input_file: str,
        output_uri: str,
        rows_per_chunk: int = DEFAULT_ROWS_PER_CHUNK,
        input_uri: str | None = None,
        work: str = "work",
    ) -> Job:
        """``copies`` copies of ``model``'s held-out rows, written to ``tmp_path/input_file``
        (the job's input unless ``input_uri`` names another), scored into ``output_uri`` with
        the work directory ``tmp_path/work``."""
        frame = pd.concat([served[model].held_out] * copies, ignore_index=True)
        source = tmp_path / input_file
        if source.suffix == ".csv":
            frame.to_csv(source, index=False)
        else:
            frame.to_parquet(source, index=False)
        settings = ScoreSettings(
            model_repo=repository,
            model=model,
            input_uri=input_uri or str(source),
            output_uri=output_uri,
            rows_per_chunk=rows_per_chunk,
            work_dir=tmp_path / work,
        )
        return Job(settings, frame, served[model].original)

    return make


def crash_on_chunk(settings: ScoreSettings, monkeypatch: pytest.MonkeyPatch, number: int) -> None:
    """Run the job until in-process scoring raises on its ``number``-th chunk, as a lost pod
    would, then put the real scoring back."""
    restore_scoring = crash_scoring_on_chunk(monkeypatch, number, "pod lost")
    with pytest.raises(RuntimeError, match="pod lost"):
        run_scoring(settings)
    restore_scoring()


def test_s3_in_s3_out(s3: Any, held_out_job: JobFactory, tmp_path: Path) -> None:
    job = held_out_job(
        "churn", 5, "in.csv", "s3://batch/out/day1.parquet", 100, input_uri="s3://batch/in/day1.csv"
    )
    settings, frame = job.settings, job.frame
    s3.upload_file(str(tmp_path / "in.csv"), "batch", "in/day1.csv")
    manifest = run_scoring(settings)
    assert manifest.rows_out == len(frame)
    s3.download_file("batch", "out/day1.parquet", str(tmp_path / "out.parquet"))
    job.assert_every_row_once_in_order(pd.read_parquet(tmp_path / "out.parquet"))
    stored = json.loads(
        s3.get_object(Bucket="batch", Key="out/day1.parquet.manifest.json")["Body"].read()
    )
    assert stored["rows_in"] == len(frame)
    assert s3.head_object(Bucket="batch", Key="out/day1.parquet.drift.json")
    assert not (tmp_path / "work").exists()
    with pytest.raises(ScoringError, match="already exists"):
        run_scoring(settings)


def test_s3_output_crash_and_resume(
    s3: Any, held_out_job: JobFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = held_out_job("spend", 10, "in.parquet", "s3://batch/out/spend.csv", 100)
    settings, frame = job.settings, job.frame
    crash_on_chunk(settings, monkeypatch, 3)
    assert keys(s3, "out/spend.csv") == []  # nothing visible before the job is done
    manifest = run_scoring(settings)
    assert manifest.chunks_resumed == 2
    s3.download_file("batch", "out/spend.csv", str(tmp_path / "out.csv"))
    assert pd.read_csv(tmp_path / "out.csv")["row"].tolist() == list(range(len(frame)))


def keys(s3: Any, prefix: str) -> list[str]:
    """The objects under ``prefix``, without the empty ``folder/`` markers pyarrow's S3
    filesystem leaves after a delete (apache/arrow#36275)."""
    return [
        item["Key"]
        for item in s3.list_objects_v2(Bucket="batch", Prefix=prefix).get("Contents", [])
        if not item["Key"].endswith("/")
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
    s3: Any, held_out_job: JobFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = "s3://batch/in/pod.csv"
    job = held_out_job(  # 600 rows
        "churn", 10, "in.csv", "s3://batch/pod/scores.jsonl", 100, source, work="first-pod"
    )
    settings = job.settings
    s3.upload_file(str(tmp_path / "in.csv"), "batch", "in/pod.csv")
    crash_on_chunk(settings, monkeypatch, 4)
    assert keys(s3, "pod/scores") == []  # nothing published
    assert len([k for k in keys(s3, "pod/.scores.jsonl.partial/") if k.endswith(".arrow")]) == 3

    done = score_in_fresh_process(settings, tmp_path / "second-pod")
    assert done.returncode == 0, done.stderr
    manifest = json.loads(
        s3.get_object(Bucket="batch", Key="pod/scores.jsonl.manifest.json")["Body"].read()
    )
    assert (manifest["chunks_resumed"], manifest["rows_out"]) == (3, 600)
    s3.download_file("batch", "pod/scores.jsonl", str(tmp_path / "out.jsonl"))
    job.assert_every_row_once_in_order(pd.read_json(tmp_path / "out.jsonl", lines=True))
    assert keys(s3, "pod/.scores.jsonl.partial/") == []  # cleaned up
    assert sorted(keys(s3, "pod/")) == [
        "pod/scores.jsonl",
        "pod/scores.jsonl.drift.json",
        "pod/scores.jsonl.manifest.json",
    ]


def test_crash_between_output_and_manifest_is_finished_by_the_rerun(
    s3: Any, held_out_job: JobFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = held_out_job(
        "spend", 4, "in.parquet", "s3://batch/late/spend.parquet", 50, work="first-pod"
    )
    settings, frame = job.settings, job.frame
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
    s3: Any, held_out_job: JobFactory, tmp_path: Path
) -> None:
    job = held_out_job("spend", 1, "in.csv", "s3://batch/foreign/out.csv")
    s3.put_object(Bucket="batch", Key="foreign/out.csv", Body=b"someone else's")
    with pytest.raises(ScoringError, match="not this job's"):
        run_scoring(job.settings)
    assert s3.get_object(Bucket="batch", Key="foreign/out.csv")["Body"].read() == b"someone else's"
    assert keys(s3, "foreign/") == ["foreign/out.csv"]


def test_gs_output_resumes_in_a_fresh_work_dir_and_cleans_up(
    gcs_models: Any, held_out_job: JobFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = gcs_models
    job = held_out_job("wine", 4, "in.csv", "gs://models/scores/wine.csv", 60, work="first-pod")
    settings = job.settings
    crash_on_chunk(settings, monkeypatch, 3)
    manifest = run_scoring(settings.model_copy(update={"work_dir": tmp_path / "second-pod"}))
    assert (manifest.chunks_resumed, manifest.rows_out) == (2, len(job.frame))
    bucket.blob("scores/wine.csv").download_to_filename(str(tmp_path / "out.csv"))
    job.assert_every_row_once_in_order(pd.read_csv(tmp_path / "out.csv"))
    assert sorted(blob.name for blob in bucket.list_blobs(prefix="scores/")) == [
        "scores/wine.csv",
        "scores/wine.csv.drift.json",
        "scores/wine.csv.manifest.json",
    ]


def replaced_after_a_crash(
    job: Job, source: Path, chunk: int, upload: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> Job:
    """Upload ``source``, run the job until the pod is lost on chunk ``chunk``, then upload
    ``source``'s rows reversed (another table, the same size): the job on that table."""
    upload()
    crash_on_chunk(job.settings, monkeypatch, chunk)
    header, *lines = source.read_text().splitlines(keepends=True)
    source.write_text(header + "".join(reversed(lines)))
    upload()
    return Job(job.settings, pd.read_csv(source), job.original)


def test_an_s3_input_replaced_with_a_same_size_table_is_scored_afresh(
    s3: Any, held_out_job: JobFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = held_out_job(
        "churn", 10, "in.csv", "s3://batch/swap/out.csv", 100, "s3://batch/in/swap.csv", "pod1"
    )
    source = tmp_path / "in.csv"
    upload = partial(s3.upload_file, str(source), "batch", "in/swap.csv")
    replaced = replaced_after_a_crash(job, source, 4, upload, monkeypatch)
    manifest = run_scoring(job.settings.model_copy(update={"work_dir": tmp_path / "pod2"}))
    assert manifest.chunks_resumed == 0
    s3.download_file("batch", "swap/out.csv", str(tmp_path / "out.csv"))
    replaced.assert_every_row_once_in_order(pd.read_csv(tmp_path / "out.csv"))


def test_a_gs_input_replaced_with_a_same_size_table_is_scored_afresh(
    gcs_models: Any, held_out_job: JobFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = held_out_job(
        "wine", 4, "in.csv", str(tmp_path / "out.csv"), 60, "gs://models/in/swap.csv", "pod1"
    )
    source = tmp_path / "in.csv"
    upload = partial(gcs_models.blob("in/swap.csv").upload_from_filename, str(source))
    replaced = replaced_after_a_crash(job, source, 3, upload, monkeypatch)
    manifest = run_scoring(job.settings)  # the same work directory, holding the old download
    assert manifest.chunks_resumed == 0
    replaced.assert_every_row_once_in_order(pd.read_csv(tmp_path / "out.csv"))


def test_az_in_az_out_resumes_in_a_fresh_pod_and_cleans_up(
    azure_models: Any, held_out_job: JobFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyarrow.fs import FileSelector, FileType

    filesystem = azure_models
    job = held_out_job(
        "wine", 4, "in.csv", "az://models/scores/wine.parquet", 60, "az://models/in/wine.csv"
    )
    with filesystem.open_output_stream("models/in/wine.csv", compression=None) as stream:
        stream.write((tmp_path / "in.csv").read_bytes())
    crash_on_chunk(job.settings, monkeypatch, 3)
    listed = filesystem.get_file_info(FileSelector("models/scores", recursive=True))
    assert [info.base_name for info in listed if info.type == FileType.File] != []
    assert filesystem.get_file_info("models/scores/wine.parquet").type == FileType.NotFound
    manifest = run_scoring(job.settings.model_copy(update={"work_dir": tmp_path / "second-pod"}))
    assert (manifest.chunks_resumed, manifest.rows_out) == (2, len(job.frame))
    with filesystem.open_input_stream("models/scores/wine.parquet") as stream:
        (tmp_path / "out.parquet").write_bytes(stream.read())
    job.assert_every_row_once_in_order(pd.read_parquet(tmp_path / "out.parquet"))
    listed = filesystem.get_file_info(FileSelector("models/scores", recursive=True))
    assert sorted(info.path for info in listed if info.type == FileType.File) == [
        "models/scores/wine.parquet",
        "models/scores/wine.parquet.drift.json",
        "models/scores/wine.parquet.manifest.json",
    ]  # the committed chunks kept beside the output are gone, and no upload was left half-way
    with pytest.raises(ScoringError, match="already exists"):
        run_scoring(job.settings)


def test_a_small_object_larger_than_its_limit_is_refused_not_read(s3: Any) -> None:
    s3.put_object(Bucket="batch", Key="big/out.csv.manifest.json", Body=b"x" * 100)
    uri = parse_model_uri("s3://batch/big/out.csv.manifest.json")
    assert objects.read_bytes(uri, limit=100) == b"x" * 100
    with pytest.raises(FetchError, match="holds more than 99 bytes"):
        objects.read_bytes(uri, limit=99)
