"""`modelship score` against hostile or unlucky inputs: a job either finishes or is refused
with one line naming what to fix, the same way on every retry, and a retry never resumes
over an input that changed since the crash. Values the model's input type cannot hold
(inf, 1e200 into FP32) are refused naming the column and row; a --key column is carried
as text, so its values cannot change type between chunks; a presigned URL's query string
reaches neither the manifest, nor the drift report, nor the job state, nor the logs, and
such a URL can come from the environment (a Secret) instead of the command line."""

from __future__ import annotations

import functools
import http.server
import json
import logging
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from modelship.cli import main
from modelship_serving.drift import BatchCounts, drift_report
from modelship_serving.errors import SchemaMismatchError, ScoringError
from modelship_serving.scoring.job import manifest_path, run_scoring
from modelship_serving.scoring.scorers import InProcessScorer
from support.churn_scoring import churn_job as job

SECRET = "X-Amz-Signature=s3cr3tsignature"


def rows(count: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, count).astype(float),
            "income": rng.normal(50_000, 12_000, count),
            "city": rng.choice(["paris", "lyon", "nice"], count),
            "plan": rng.choice(["basic", "pro"], count),
        }
    )
    frame.insert(0, "customer", list(range(count)))
    return frame


def crash_on_chunk(monkeypatch: pytest.MonkeyPatch, number: int) -> None:
    """Make in-process scoring raise on its ``number``-th chunk, as a lost pod would."""
    original = InProcessScorer.score
    calls: list[int] = []

    def crash(self: InProcessScorer, chunk: pd.DataFrame) -> Any:
        calls.append(1)
        if len(calls) == number:
            raise RuntimeError("pod lost")
        return original(self, chunk)

    monkeypatch.setattr(InProcessScorer, "score", crash)


def expected_labels(model: Any, frame: pd.DataFrame) -> list[str]:
    return [str(label) for label in model.predict(frame.drop(columns=["customer"]))]


# --- numeric values the model cannot take ------------------------------------------------


@pytest.mark.parametrize("value", [np.inf, -np.inf, 1e200, -1e155])
@pytest.mark.parametrize("where", [5, 250])  # in the first rows checked / in a later chunk
def test_a_value_the_model_cannot_take_is_refused_naming_column_and_row(
    value: float, where: int, churn_repo: Path, tmp_path: Path
) -> None:
    frame = rows(300)
    frame.loc[where, "income"] = value
    source = tmp_path / "in.csv"
    frame.to_csv(source, index=False)
    settings = job(churn_repo, source, tmp_path / "out.parquet")
    for _attempt in range(2):  # every retry ends the same way, quickly
        with pytest.raises(SchemaMismatchError, match=rf"'income'.*row {where}\b.*FP32"):
            run_scoring(settings)
    assert not (tmp_path / "out.parquet").exists()


def test_drift_counts_of_huge_values_survive_their_round_trip(churn_repo: Path) -> None:
    from modelship_serving.metadata import read_model_metadata

    reference = read_model_metadata(churn_repo / "churn").reference_profile
    counts = BatchCounts.empty(reference)
    frame = rows(3)
    frame["income"] = [1e200, 1e300, 5.0]
    counts.add_frame(frame, reference)
    again = BatchCounts.model_validate_json(counts.model_dump_json())
    assert again.numeric["income"].count == 3
    report = drift_report(again, reference, 0.25).model_dump_json()
    json.loads(report, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))


# --- the --key column --------------------------------------------------------------------


def test_key_ints_then_a_gap_then_text_ids_give_a_parquet_output(
    churn_repo: Path, mixed_classifier: Any, tmp_path: Path
) -> None:
    frame = rows(300).astype({"customer": object})
    frame.loc[150, "customer"] = None  # a gap in the second chunk
    frame.loc[250, "customer"] = "c-250"  # a text id in the third
    frame.loc[10, "customer"] = "007"  # leading zeros are part of an id
    source = tmp_path / "in.csv"
    frame.to_csv(source, index=False)
    run_scoring(job(churn_repo, source, tmp_path / "out.parquet", key_column="customer"))
    scored = pd.read_parquet(tmp_path / "out.parquet")
    assert scored["row"].tolist() == list(range(300))
    keys = scored["customer"].tolist()
    assert keys[0] == "0"
    assert keys[10] == "007"
    assert keys[250] == "c-250"
    assert pd.isna(keys[150])
    assert scored["label"].tolist() == expected_labels(mixed_classifier.model, frame)


def test_parquet_key_with_a_gap_in_one_chunk_gives_a_parquet_output(
    churn_repo: Path, tmp_path: Path
) -> None:
    frame = rows(300)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    ids = pa.array([None if index == 150 else index for index in range(300)], pa.int64())
    table = table.set_column(0, "customer", ids)
    source = tmp_path / "in.parquet"
    pq.write_table(table, source, row_group_size=100)
    run_scoring(job(churn_repo, source, tmp_path / "out.parquet", key_column="customer"))
    keys = pd.read_parquet(tmp_path / "out.parquet")["customer"].tolist()
    assert keys[:3] == ["0", "1", "2"]
    assert pd.isna(keys[150])
    assert keys[299] == "299"


def test_a_chunk_whose_keys_are_all_missing_does_not_break_assembly(
    churn_repo: Path, tmp_path: Path
) -> None:
    frame = rows(300).astype({"customer": object})
    frame.loc[100:199, "customer"] = None
    source = tmp_path / "in.jsonl"
    frame.to_json(source, orient="records", lines=True)
    run_scoring(job(churn_repo, source, tmp_path / "out.parquet", key_column="customer"))
    keys = pd.read_parquet(tmp_path / "out.parquet")["customer"].tolist()
    assert len(keys) == 300
    assert keys[99] == "99"
    assert all(pd.isna(key) for key in keys[100:200])
    assert keys[200] == "200"


# --- Parquet input with duplicate column names --------------------------------------------


def test_parquet_input_with_duplicate_column_names_is_refused_in_one_line(
    churn_repo: Path, tmp_path: Path
) -> None:
    frame = rows(20)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.append_column("age", table.column("age"))
    source = tmp_path / "in.parquet"
    pq.write_table(table, source)
    with pytest.raises(ScoringError, match=r"column 'age' appears 2 times"):
        run_scoring(job(churn_repo, source, tmp_path / "out.csv"))
    assert not (tmp_path / "out.csv").exists()


def csv_with_a_name_twice(frame: pd.DataFrame, path: Path) -> None:
    frame.rename(columns={"income": "age"}).to_csv(path, index=False)


def csv_separated_by_semicolons(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, sep=";", decimal=",")


@pytest.mark.parametrize(
    ("write", "said"),
    [
        (csv_with_a_name_twice, "column 'age' appears 2 times; give every column its own name"),
        (csv_separated_by_semicolons, "its values are separated by ';', not ','"),
    ],
)
def test_a_csv_header_pandas_would_misread_is_refused_in_one_line(
    write: Any, said: str, churn_repo: Path, tmp_path: Path
) -> None:
    """pandas renames a repeated name "age.1" and reads a ';' export as one column: the user
    was told a column is missing, when the file says otherwise."""
    write(rows(20), tmp_path / "in.csv")
    with pytest.raises(ScoringError, match=said) as refused:
        run_scoring(job(churn_repo, tmp_path / "in.csv", tmp_path / "out.csv"))
    assert "\n" not in str(refused.value)
    assert "lacks" not in str(refused.value)
    assert not (tmp_path / "out.csv").exists()


# --- an unwritable output ----------------------------------------------------------------


def test_an_unwritable_output_is_one_line(churn_repo: Path, tmp_path: Path, score_cli: Any) -> None:
    source = tmp_path / "in.csv"
    rows(20).to_csv(source, index=False)
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("a file where the output's folder should be")
    result = score_cli(churn_repo, "churn", source, not_a_folder / "out.csv")
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, OSError), result.exception
    assert f"cannot write {not_a_folder}" in result.output


# --- an input that changes between a crash and the retry ----------------------------------


def same_size_other_table(path: Path) -> pd.DataFrame:
    """Replace the CSV at ``path`` with its rows reversed: another table, the same bytes count."""
    header, *lines = path.read_text().splitlines(keepends=True)
    size = path.stat().st_size
    path.write_text(header + "".join(reversed(lines)))
    assert path.stat().st_size == size
    return pd.read_csv(path)


def test_a_local_input_replaced_with_the_same_size_and_mtime_starts_over(
    churn_repo: Path, mixed_classifier: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "in.csv"
    rows(500).to_csv(source, index=False)
    settings = job(churn_repo, source, tmp_path / "out.parquet", key_column="customer")
    crash_on_chunk(monkeypatch, 3)
    with pytest.raises(RuntimeError, match="pod lost"):
        run_scoring(settings)
    monkeypatch.undo()
    stat = source.stat()
    replaced = same_size_other_table(source)
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as `cp -p` or rsync -t would
    manifest = run_scoring(settings)
    assert manifest.chunks_resumed == 0
    scored = pd.read_parquet(tmp_path / "out.parquet")
    assert scored["customer"].tolist() == [str(key) for key in replaced["customer"]]
    assert scored["label"].tolist() == expected_labels(mixed_classifier.model, replaced)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_folder(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served over plain HTTP on localhost, and its base url."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


@pytest.mark.parametrize("retry_work", ["same", "fresh"])
def test_an_http_input_replaced_between_crash_and_retry_starts_over(
    retry_work: str,
    churn_repo: Path,
    mixed_classifier: Any,
    http_folder: tuple[Path, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder, base = http_folder
    rows(500).to_csv(folder / "in.csv", index=False)
    uri = f"{base}/in.csv?{SECRET}"
    settings = job(
        churn_repo, uri, tmp_path / "out.parquet", key_column="customer", work_dir=tmp_path / "w"
    )
    crash_on_chunk(monkeypatch, 3)
    with pytest.raises(RuntimeError, match="pod lost"):
        run_scoring(settings)
    monkeypatch.undo()
    replaced = same_size_other_table(folder / "in.csv")
    if retry_work == "fresh":  # a retried pod: the chunks survive, the downloaded copy not
        shutil.copytree(tmp_path / "w", tmp_path / "w2", ignore=shutil.ignore_patterns("input-*"))
        settings = settings.model_copy(update={"work_dir": tmp_path / "w2"})
    manifest = run_scoring(settings)
    assert manifest.chunks_resumed == 0
    scored = pd.read_parquet(tmp_path / "out.parquet")
    assert scored["customer"].tolist() == [str(key) for key in replaced["customer"]]
    assert scored["label"].tolist() == expected_labels(mixed_classifier.model, replaced)


# --- a presigned URL is never persisted ----------------------------------------------------


def test_a_presigned_input_url_is_kept_out_of_manifest_drift_state_and_logs(
    churn_repo: Path,
    http_folder: tuple[Path, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    folder, base = http_folder
    rows(300).to_csv(folder / "in.csv", index=False)
    settings = job(churn_repo, f"{base}/in.csv?{SECRET}", tmp_path / "out.csv")
    crash_on_chunk(monkeypatch, 2)
    with pytest.raises(RuntimeError, match="pod lost"):
        run_scoring(settings)
    monkeypatch.undo()
    persisted = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "state.json" for p in persisted)
    manifest = run_scoring(settings)
    assert "s3cr3t" not in manifest.input
    assert manifest.input == f"{base}/in.csv"
    persisted += [p for p in tmp_path.rglob("*") if p.is_file()]
    for path in {p for p in persisted if p.exists() and p.suffix in (".json", ".csv")}:
        if path.parent != folder:
            assert "s3cr3t" not in path.read_text(), path
    assert manifest_path(tmp_path / "out.csv").is_file()
    assert "s3cr3t" not in caplog.text


def test_a_presigned_input_can_come_from_the_environment_instead_of_the_command_line(
    churn_repo: Path, http_folder: tuple[Path, str], tmp_path: Path
) -> None:
    folder, base = http_folder
    rows(120).to_csv(folder / "in.csv", index=False)
    output = tmp_path / "out.csv"
    result = CliRunner().invoke(
        main,
        ["score", "--model-repo", str(churn_repo), "--model", "churn", "--output", str(output)],
        env={"MODELSHIP_SCORE_INPUT": f"{base}/in.csv?{SECRET}"},
    )
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(output)) == 120
    assert "s3cr3t" not in result.output
    assert "s3cr3t" not in manifest_path(output).read_text()


def test_a_presigned_input_from_the_secret_replaces_the_spec_uri_the_builder_passes(
    churn_repo: Path, http_folder: tuple[Path, str], tmp_path: Path
) -> None:
    """The batch CronJob always passes --input (the spec's uri, which may hold no query);
    MODELSHIP_SCORE_INPUT from the credentials Secret carries the signed one and wins."""
    folder, base = http_folder
    rows(120).to_csv(folder / "in.csv", index=False)
    output = tmp_path / "out.csv"
    result = CliRunner().invoke(
        main,
        ["score", "--model-repo", str(churn_repo), "--model", "churn", "--output", str(output),
         "--input", f"{base}/missing.csv"],
        env={"MODELSHIP_SCORE_INPUT": f"{base}/in.csv?{SECRET}"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(output)) == 120
    assert "s3cr3t" not in manifest_path(output).read_text()
