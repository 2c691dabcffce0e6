"""Datasets in and out, and shards of an Indexed Job, for `modelship score`.

A hive-partitioned dataset (CSV, Parquet, JSON Lines) is scored into one table or into a
dataset of one part per input file, with one manifest and one drift report; every output
row is the model's prediction for its input row, and carries its file and partition keys.
Then the test plays the Job controller: it runs each completion index's command, in any
order, crashes one shard mid-way and retries it alone; exactly one prediction per input row
comes out, and nothing is visible before the last shard commits. The same on S3 (moto).
Shard assignment is pure and covers every piece once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from modelship_serving.errors import ScoringError
from modelship_serving.scoring.dataset import Piece, row_group_pieces, shard_pieces
from modelship_serving.scoring.job import ScoreSettings, run_scoring
from modelship_serving.scoring.scorers import InProcessScorer
from modelship_serving.scoring.shard_output import DATASET_DRIFT, DATASET_MANIFEST
from support.churn_scoring import score_settings as job
from support.datasets import assert_predictions, read_dataset_output, write_dataset
from support.object_store import in_process_s3
from support.sklearn_models import customer_rows as rows

EXTENSIONS = {"csv": ".csv", "parquet": ".parquet", "jsonl": ".jsonl"}


@pytest.mark.parametrize("fmt", list(EXTENSIONS))
def test_a_partitioned_dataset_is_scored_into_one_table(
    fmt: str, churn_repo: Path, mixed_classifier: Any, tmp_path: Path
) -> None:
    expected = write_dataset(tmp_path / "in", EXTENSIONS[fmt], [130, 70, 1, 99])
    output = tmp_path / "out.parquet"
    manifest = run_scoring(job(churn_repo, str(tmp_path / "in"), str(output), rows_per_chunk=50))
    assert manifest.rows_in == manifest.rows_out == 300
    assert_predictions(pd.read_parquet(output), expected, mixed_classifier.model)
    assert (tmp_path / "out.parquet.manifest.json").is_file()
    assert (tmp_path / "out.parquet.drift.json").is_file()
    assert not (tmp_path / ".out.parquet.partial").exists()


@pytest.mark.parametrize("fmt", list(EXTENSIONS))
def test_a_dataset_output_has_one_part_per_input_file_and_one_manifest(
    fmt: str, churn_repo: Path, mixed_classifier: Any, tmp_path: Path
) -> None:
    expected = write_dataset(tmp_path / "in", EXTENSIONS[fmt], [130, 70, 40])
    output = tmp_path / "out"
    manifest = run_scoring(
        job(churn_repo, str(tmp_path / "in") + "/", f"{output}/", output_format=fmt)
    )
    assert manifest.parts == [f"part-{n:05d}{EXTENSIONS[fmt]}" for n in range(3)]
    assert sorted(p.name for p in output.iterdir()) == sorted(
        [*manifest.parts, DATASET_MANIFEST, DATASET_DRIFT]
    )
    assert_predictions(read_dataset_output(output), expected, mixed_classifier.model)


def play_job_controller(
    settings: ScoreSettings, order: list[int], output_visible: Any
) -> list[Any]:
    """Run each completion index's command in ``order``, as the Job controller starts pods;
    before each, check that nothing of the output is visible yet."""
    manifests = []
    for position, index in enumerate(order):
        assert not output_visible(), f"output visible before shard {index} ran"
        manifests.append(run_scoring(settings.model_copy(update={"shard_index": index})))
        if position < len(order) - 1:
            assert manifests[-1].shards_committed == position + 1
    return manifests


@pytest.fixture
def crash_once(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Scoring crashes on the chunk numbered by the list's first element (counted over the
    whole test), once, as a lost pod would."""
    original = InProcessScorer.score
    crash_at: list[int] = []
    calls = [0]

    def crash(self: InProcessScorer, frame: pd.DataFrame) -> Any:
        calls[0] += 1
        if crash_at and calls[0] == crash_at[0]:
            crash_at.clear()
            raise RuntimeError("pod lost")
        return original(self, frame)

    monkeypatch.setattr(InProcessScorer, "score", crash)
    return crash_at


@pytest.mark.parametrize("dataset_output", [False, True])
def test_shards_run_in_any_order_with_a_retried_crash_give_one_prediction_per_row(
    dataset_output: bool,
    churn_repo: Path,
    mixed_classifier: Any,
    tmp_path: Path,
    crash_once: list[int],
) -> None:
    expected = write_dataset(tmp_path / "in", ".parquet", [120, 80, 60, 90, 30])
    output = tmp_path / ("out" if dataset_output else "out.parquet")
    uri = f"{output}/" if dataset_output else str(output)
    settings = job(churn_repo, str(tmp_path / "in"), uri, rows_per_chunk=25, shards=3)
    crash_once.append(3)  # shard 2's third chunk: the two scored before it are committed
    with pytest.raises(RuntimeError, match="pod lost"):
        run_scoring(settings.model_copy(update={"shard_index": 2}))

    def visible() -> bool:
        return output.exists()

    # The failed index is retried alone, between the others.
    manifests = play_job_controller(settings, [1, 2, 0], visible)
    published = manifests[-1]
    assert published.shards == published.shards_committed == 3
    assert published.rows_out == len(expected) == 380
    assert published.chunks_resumed == 2
    scored = read_dataset_output(output) if dataset_output else pd.read_parquet(output)
    assert_predictions(scored, expected, mixed_classifier.model)
    # A retry of any shard after publishing ends as done and changes nothing.
    again = run_scoring(settings.model_copy(update={"shard_index": 1}))
    assert again.job == published.job
    assert again.finished_at == published.finished_at
    assert not (tmp_path / (".out.partial" if dataset_output else ".out.parquet.partial")).exists()


def test_a_single_parquet_file_is_shared_by_row_groups(
    churn_repo: Path, mixed_classifier: Any, tmp_path: Path
) -> None:
    frame = rows(250)
    source = tmp_path / "in.parquet"
    frame.to_parquet(source, index=False, row_group_size=60)  # 5 row groups
    output = tmp_path / "out.parquet"
    settings = job(churn_repo, str(source), str(output), rows_per_chunk=40, shards=2)
    play_job_controller(settings, [1, 0], output.exists)
    scored = pd.read_parquet(output)
    assert scored["row"].tolist() == list(range(250))
    assert scored["label"].tolist() == mixed_classifier.model.predict(frame).tolist()


def test_a_foreign_output_is_never_touched(churn_repo: Path, tmp_path: Path) -> None:
    write_dataset(tmp_path / "in", ".csv", [20])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "theirs.parquet").write_text("someone else's")
    with pytest.raises(ScoringError, match="already exists and is not this job's"):
        run_scoring(job(churn_repo, str(tmp_path / "in"), f"{tmp_path / 'out'}/"))
    assert (tmp_path / "out" / "theirs.parquet").read_text() == "someone else's"


def test_sharded_dataset_on_s3_publishes_once_every_shard_is_committed(
    churn_repo: Path,
    mixed_classifier: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    crash_once: list[int],
) -> None:
    expected = write_dataset(tmp_path / "in", ".jsonl", [50, 40, 30])
    with in_process_s3(monkeypatch, tmp_path, "lake") as s3:
        for path in sorted((tmp_path / "in").rglob("*")):
            if path.is_file():
                key = "in/" + path.relative_to(tmp_path / "in").as_posix()
                s3.upload_file(str(path), "lake", key)
        settings = job(
            churn_repo,
            "s3://lake/in/",
            "s3://lake/out/",
            rows_per_chunk=20,
            shards=2,
            work_dir=None,
        )

        def visible() -> bool:
            listed = s3.list_objects_v2(Bucket="lake", Prefix="out/").get("KeyCount", 0)
            return bool(listed)

        crash_once.append(2)
        with pytest.raises(RuntimeError, match="pod lost"):
            run_scoring(settings.model_copy(update={"shard_index": 0}))
        play_job_controller(settings, [1, 0], visible)
        keys = sorted(item["Key"] for item in s3.list_objects_v2(Bucket="lake")["Contents"])
        assert [key for key in keys if not key.startswith("in/")] == [
            "out/_drift.json",
            "out/_manifest.json",
            "out/part-00000.parquet",
            "out/part-00001.parquet",
            "out/part-00002.parquet",
        ]  # nothing of the work in progress is left
        parts = []
        for number in range(3):
            target = tmp_path / f"part-{number}.parquet"
            s3.download_file("lake", f"out/part-{number:05d}.parquet", str(target))
            parts.append(pd.read_parquet(target))
    assert_predictions(pd.concat(parts, ignore_index=True), expected, mixed_classifier.model)


def test_an_s3_prefix_without_a_final_slash_is_a_dataset(
    churn_repo: Path, mixed_classifier: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = write_dataset(tmp_path / "in", ".parquet", [40, 25])
    with in_process_s3(monkeypatch, tmp_path, "lake") as s3:
        for path in sorted((tmp_path / "in").rglob("*")):
            if path.is_file():
                key = "events/" + path.relative_to(tmp_path / "in").as_posix()
                s3.upload_file(str(path), "lake", key)
        s3.put_object(Bucket="lake", Key="events.parquet.bak", Body=b"a sibling, not a file of it")
        output = tmp_path / "out.parquet"
        manifest = run_scoring(job(churn_repo, "s3://lake/events", str(output), rows_per_chunk=30))
    assert manifest.rows_out == len(expected)
    assert_predictions(pd.read_parquet(output), expected, mixed_classifier.model)


def test_every_piece_is_in_exactly_one_shard() -> None:
    pieces = [Piece(f"f{n}", "x") for n in range(11)]
    for shards in (1, 2, 3, 4, 11, 16):
        dealt = [shard_pieces(pieces, shards, index) for index in range(shards)]
        assert sorted(p for share in dealt for p in share) == list(range(11))
        assert max(map(len, dealt)) - min(map(len, dealt)) <= 1
    assert shard_pieces(pieces, 4, 1) == [1, 5, 9]
    with pytest.raises(ScoringError, match="between 0 and 3"):
        shard_pieces(pieces, 4, 4)


def test_row_group_pieces_number_rows_from_their_first_in_the_file() -> None:
    whole = Piece("in.parquet", "x")
    pieces = row_group_pieces(whole, [60, 60, 10])
    assert [(p.row_groups, p.first_row) for p in pieces] == [((0,), 0), ((1,), 60), ((2,), 120)]


def test_hive_keys_come_from_the_folders() -> None:
    assert Piece("region=eu/day=%203/part.csv", "x").partition == {"region": "eu", "day": " 3"}
    assert Piece("plain/part.csv", "x").partition == {}


def test_the_cli_takes_its_shard_from_the_indexed_jobs_completion_index(
    churn_repo: Path, mixed_classifier: Any, tmp_path: Path
) -> None:
    from click.testing import CliRunner
    from modelship.cli import main

    expected = write_dataset(tmp_path / "in", ".csv", [40, 30, 20])
    output = f"{tmp_path / 'out'}/"
    line = ["score", "--model-repo", str(churn_repo), "--model", "churn",
            "--input", str(tmp_path / "in"), "--output", output, "--output-format", "jsonl",
            "--shards", "2"]  # fmt: skip
    first = CliRunner().invoke(main, line, env={"JOB_COMPLETION_INDEX": "1"})
    assert first.exit_code == 0, first.output
    assert "1 of 2 shards committed" in first.output
    assert not (tmp_path / "out").exists()
    last = CliRunner().invoke(main, line, env={"JOB_COMPLETION_INDEX": "0"})
    assert last.exit_code == 0, last.output
    assert "scored 90 rows with churn v1 (onnxruntime" in last.output
    assert_predictions(read_dataset_output(tmp_path / "out"), expected, mixed_classifier.model)


@pytest.mark.parametrize("dataset_output", [False, True])
def test_a_crash_between_publishing_and_the_manifest_is_finished_by_any_shards_retry(
    dataset_output: bool,
    churn_repo: Path,
    mixed_classifier: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Also what two shards that finish together do: the second publishes the same files
    over the first's, and both end with the one manifest."""
    from modelship_serving.scoring import sharded

    expected = write_dataset(tmp_path / "in", ".csv", [50, 40, 30])
    output = tmp_path / ("out" if dataset_output else "out.parquet")
    uri = f"{output}/" if dataset_output else str(output)
    settings = job(churn_repo, str(tmp_path / "in"), uri, rows_per_chunk=20, shards=2)
    run_scoring(settings.model_copy(update={"shard_index": 0}))
    real_write_beside = sharded.ShardedOutput.write_beside

    def lost_before_the_manifest(self: Any, record: str, text: str) -> None:
        if record.endswith("manifest.json"):
            raise RuntimeError("pod lost")
        real_write_beside(self, record, text)

    monkeypatch.setattr(sharded.ShardedOutput, "write_beside", lost_before_the_manifest)
    with pytest.raises(RuntimeError, match="pod lost"):
        run_scoring(settings.model_copy(update={"shard_index": 1}))
    monkeypatch.setattr(sharded.ShardedOutput, "write_beside", real_write_beside)
    published = sorted(output.iterdir()) if dataset_output else [output]
    first = {path.name: path.read_bytes() for path in published}
    assert "_manifest.json" not in first
    assert not (tmp_path / "out.parquet.manifest.json").exists()
    manifest = run_scoring(settings.model_copy(update={"shard_index": 0}))  # a retry
    assert manifest.rows_out == 120
    again = sorted(output.iterdir()) if dataset_output else [output]
    assert {path.name: path.read_bytes() for path in again if path.name in first} == first
    assert len(again) == len(first) + dataset_output  # the manifest, written last
    scored = read_dataset_output(output) if dataset_output else pd.read_parquet(output)
    assert_predictions(scored, expected, mixed_classifier.model)


def test_an_http_folder_is_no_dataset(churn_repo: Path, tmp_path: Path) -> None:
    with pytest.raises(ScoringError, match="a dataset is a local folder or a prefix in s3://"):
        run_scoring(job(churn_repo, "https://example.invalid/exports/", str(tmp_path / "o.csv")))


def test_an_empty_dataset_is_refused_before_anything_is_written(
    churn_repo: Path, tmp_path: Path
) -> None:
    (tmp_path / "in" / "region=eu").mkdir(parents=True)
    (tmp_path / "in" / "_SUCCESS").write_text("")
    with pytest.raises(ScoringError, match=r"holds no \.csv, \.parquet or \.jsonl files"):
        run_scoring(job(churn_repo, str(tmp_path / "in"), f"{tmp_path / 'out'}/"))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in"]


@pytest.mark.parametrize("output", ["out.csv", "out/"])
def test_a_dataset_file_whose_header_differs_is_named_and_nothing_is_left(
    output: str, churn_repo: Path, tmp_path: Path
) -> None:
    (tmp_path / "in").mkdir()
    rows(10).to_csv(tmp_path / "in" / "a.csv", index=False)
    rows(10).rename(columns={"plan": "Plan"}).to_csv(tmp_path / "in" / "b.csv", index=False)
    with pytest.raises(ScoringError, match=r"^input \S*b\.csv lacks column\(s\) plan;"):
        run_scoring(job(churn_repo, str(tmp_path / "in"), f"{tmp_path}/{output}"))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in"]  # no partial work


def test_a_partition_key_named_like_an_output_column_is_refused(
    churn_repo: Path, tmp_path: Path
) -> None:
    for folder in ("batch=1", "label=old"):  # the good file comes first
        (tmp_path / "in" / folder).mkdir(parents=True)
        rows(10).to_csv(tmp_path / "in" / folder / "part.csv", index=False)
    with pytest.raises(ScoringError, match="partition key 'label' is also an output column"):
        run_scoring(job(churn_repo, str(tmp_path / "in"), str(tmp_path / "out.csv")))
    assert not (tmp_path / "out.csv").exists()
    assert list(tmp_path.rglob("chunk-*")) == []  # not even the good file was scored


def test_a_shard_index_out_of_range_is_refused_even_once_the_output_is_published(
    churn_repo: Path, tmp_path: Path
) -> None:
    write_dataset(tmp_path / "in", ".csv", [10, 10])
    output = str(tmp_path / "out.parquet")
    for index in (0, 1):
        run_scoring(job(churn_repo, str(tmp_path / "in"), output, shards=2, shard_index=index))
    assert (tmp_path / "out.parquet.manifest.json").is_file()
    with pytest.raises(ScoringError, match=r"^shard index 2 is not between 0 and 1$"):
        run_scoring(job(churn_repo, str(tmp_path / "in"), output, shards=2, shard_index=2))
