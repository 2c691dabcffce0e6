"""A partitioned dataset in object storage (S3 on the moto server with IAM auth, GCS on the
emulator, Azure Blob Storage on Azurite) scored by shards that each run in their own pod:
each index gets a fresh work directory, so the shard that publishes reads the others'
committed chunks from beside the output. One shard crashes and is retried alone; nothing of
the output is visible before the last shard commits; every output row is the model's
prediction for its input row, exactly once; only the output, its drift report and its
manifest remain."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from modelship_serving.scoring.job import ScoreSettings, run_scoring
from modelship_serving.scoring.scorers import InProcessScorer
from support.datasets import assert_predictions, write_dataset

Store = tuple[str, Callable[[Path, str], None], Callable[[str], list[str]], Callable[..., None]]


@pytest.fixture(params=["s3", "gs", "az"])
def store(request: pytest.FixtureRequest) -> Store:
    """(bucket uri, upload(file, key), keys(prefix), download(key, file)) of a bucket."""
    if request.param == "s3":
        s3 = request.getfixturevalue("s3_environment").client()
        if "lake" not in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]:
            s3.create_bucket(Bucket="lake")

        def s3_keys(prefix: str) -> list[str]:
            listed = s3.list_objects_v2(Bucket="lake", Prefix=prefix).get("Contents", [])
            return sorted(item["Key"] for item in listed)

        return (
            "s3://lake",
            lambda path, key: s3.upload_file(str(path), "lake", key),
            s3_keys,
            lambda key, path: s3.download_file("lake", key, str(path)),
        )
    if request.param == "az":
        return azure_store(request.getfixturevalue("azure_models"))
    bucket = request.getfixturevalue("gcs_models")
    return (
        "gs://models",
        lambda path, key: bucket.blob(key).upload_from_filename(str(path)),
        lambda prefix: sorted(blob.name for blob in bucket.list_blobs(prefix=prefix)),
        lambda key, path: bucket.blob(key).download_to_filename(str(path)),
    )


def azure_store(filesystem: Any) -> Store:
    """Container `models` on Azurite, through a pyarrow filesystem of the account."""
    from pyarrow.fs import FileSelector, FileType

    def upload(path: Path, key: str) -> None:
        with filesystem.open_output_stream(f"models/{key}", compression=None) as stream:
            stream.write(path.read_bytes())

    def keys(prefix: str) -> list[str]:
        # Listed from the prefix's folder, as Azure lists by folder.
        folder = f"models/{prefix}".rsplit("/", 1)[0]
        listed = filesystem.get_file_info(FileSelector(folder, recursive=True))
        return sorted(
            info.path.split("/", 1)[1]
            for info in listed
            if info.type == FileType.File and info.path.startswith(f"models/{prefix}")
        )

    def download(key: str, path: Path) -> None:
        with filesystem.open_input_stream(f"models/{key}", compression=None) as stream:
            path.write_bytes(stream.read())

    return "az://models", upload, keys, download


@pytest.mark.parametrize(("fmt", "dataset_output"), [("csv", True), ("jsonl", False)])
def test_shards_in_separate_pods_publish_one_complete_output(
    store: Store,
    fmt: str,
    dataset_output: bool,
    packaged: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repository, served = packaged
    bucket, upload, keys, download = store
    local = tmp_path / "in"
    expected = write_dataset(local, f".{fmt}", [70, 45, 30, 55])
    run = tmp_path.name[-12:]
    for path in sorted(local.rglob("*")):
        if path.is_file():
            upload(path, f"{run}/in/" + path.relative_to(local).as_posix())
    output_key = f"{run}/out/" if dataset_output else f"{run}/out.parquet"
    settings = ScoreSettings(
        model_repo=repository,
        model="churn",
        input_uri=f"{bucket}/{run}/in/",
        output_uri=f"{bucket}/{output_key}",
        rows_per_chunk=20,
        shards=3,
    )

    def pod(index: int, attempt: int = 0) -> Any:
        work = tmp_path / f"pod-{index}-{attempt}"
        return run_scoring(settings.model_copy(update={"shard_index": index, "work_dir": work}))

    original = InProcessScorer.score
    calls = [0]

    def lost_on_second_chunk(self: InProcessScorer, frame: pd.DataFrame) -> Any:
        calls[0] += 1
        if calls[0] == 2:
            raise RuntimeError("pod lost")
        return original(self, frame)

    monkeypatch.setattr(InProcessScorer, "score", lost_on_second_chunk)
    with pytest.raises(RuntimeError, match="pod lost"):
        pod(0)
    monkeypatch.setattr(InProcessScorer, "score", original)

    def published() -> list[str]:
        return [key for key in keys(f"{run}/out") if not key.startswith(f"{run}/.out")]

    for index in (2, 1):
        pod(index)
        assert published() == []
    manifest = pod(0, attempt=1)  # the retry, in a new pod, is the last to commit
    assert manifest.shards_committed == 3
    assert manifest.chunks_resumed == 1
    if dataset_output:
        assert published() == sorted(
            [f"{run}/out/{part}" for part in manifest.parts]
            + [f"{run}/out/_drift.json", f"{run}/out/_manifest.json"]
        )
        frames = []
        for part in manifest.parts:
            download(f"{run}/out/{part}", tmp_path / part)
            frames.append(pd.read_parquet(tmp_path / part))
        scored = pd.concat(frames, ignore_index=True)
    else:
        assert published() == [
            f"{run}/out.parquet",
            f"{run}/out.parquet.drift.json",
            f"{run}/out.parquet.manifest.json",
        ]
        download(f"{run}/out.parquet", tmp_path / "out.parquet")
        scored = pd.read_parquet(tmp_path / "out.parquet")
    assert_predictions(scored, expected, served["churn"].original)
    assert keys(f"{run}/.out") == []  # the work in progress is gone
    download(
        f"{run}/out/_manifest.json" if dataset_output else f"{run}/out.parquet.manifest.json",
        tmp_path / "manifest.json",
    )
    assert json.loads((tmp_path / "manifest.json").read_text())["rows_out"] == len(expected)
