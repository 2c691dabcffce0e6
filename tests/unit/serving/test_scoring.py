"""`modelship score` writes exactly one prediction per input row, equal to the model's, for CSV,
Parquet and JSONL inputs and outputs of several sizes; refuses an input that does not match the
recorded schema without writing anything; after an injected crash a rerun resumes from the last
committed chunk with no row lost or scored twice, and a crash after the output is published but
before its manifest is finished by the rerun; and reports drift against the reference."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from modelship_serving.drift import population_stability_index
from modelship_serving.errors import SchemaMismatchError, ScoringError
from modelship_serving.metadata import METADATA_FILENAME, ModelMetadata
from modelship_serving.scoring.job import (
    ScoreSettings,
    make_scorer,
    manifest_path,
    run_scoring,
    work_directory,
)
from modelship_serving.scoring.output import write_chunk
from modelship_serving.scoring.partial import chunk_name
from modelship_serving.scoring.scorers import InProcessScorer
from support.churn_scoring import score_settings as churn_job
from support.sklearn_models import customer_rows as rows
from support.tables import write_table

FORMATS = {"csv": ".csv", "parquet": ".parquet", "jsonl": ".jsonl"}


def read_table(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_json(path, lines=True)


@pytest.mark.parametrize("input_format", list(FORMATS))
@pytest.mark.parametrize("output_format", list(FORMATS))
def test_every_row_gets_the_models_prediction(
    input_format: str, output_format: str, churn_repo: Path, mixed_classifier: Any, tmp_path: Path
) -> None:
    frame = rows(437)
    source = write_table(frame, tmp_path / f"in{FORMATS[input_format]}")
    output = tmp_path / f"out{FORMATS[output_format]}"
    manifest = run_scoring(
        churn_job(churn_repo, source, output.as_uri(), rows_per_chunk=100, key_column="customer")
    )
    scored = read_table(output)
    assert manifest.rows_in == manifest.rows_out == len(scored) == 437
    assert manifest.chunks == 5
    assert scored["row"].tolist() == list(range(437))
    assert scored["customer"].tolist() == frame["customer"].tolist()
    expected = mixed_classifier.model.predict(frame)
    assert scored["label"].astype(str).tolist() == expected.tolist()
    probabilities = mixed_classifier.model.predict_proba(frame)
    np.testing.assert_allclose(
        scored[["probabilities_no", "probabilities_yes"]], probabilities, atol=1e-5
    )
    assert not work_directory(output).exists()
    assert json.loads(manifest_path(output).read_text())["model_sha256"] == manifest.model_sha256


@pytest.mark.parametrize(("count", "chunk"), [(1, 10), (10, 10), (2500, 333)])
def test_regressor_sizes(
    count: int, chunk: int, spend_repo: Path, mixed_regressor: Any, tmp_path: Path
) -> None:
    frame = rows(count, seed=count)
    source = write_table(frame, tmp_path / "in.parquet")
    run_scoring(
        ScoreSettings(
            model_repo=spend_repo,
            model="spend",
            input_uri=str(source),
            output_uri=str(tmp_path / "out.csv"),
            rows_per_chunk=chunk,
        )
    )
    scored = pd.read_csv(tmp_path / "out.csv")
    assert scored["row"].tolist() == list(range(count))
    np.testing.assert_allclose(
        scored["prediction"], mixed_regressor.model.predict(frame), rtol=1e-4
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_input_without_rows_is_refused_and_nothing_is_written(
    suffix: str, churn_repo: Path, tmp_path: Path
) -> None:
    source = write_table(rows(5).iloc[:0], tmp_path / f"in{suffix}")
    with pytest.raises(ScoringError, match="has no rows; nothing was scored"):
        run_scoring(churn_job(churn_repo, source, tmp_path / "o.csv"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"in{suffix}"]


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_an_empty_file_is_refused_in_one_line_and_nothing_is_written(
    suffix: str, churn_repo: Path, tmp_path: Path
) -> None:
    source = tmp_path / f"in{suffix}"
    source.write_bytes(b"")
    with pytest.raises(ScoringError) as caught:
        run_scoring(churn_job(churn_repo, source, tmp_path / "o.csv"))
    assert str(caught.value) == f"input {source} is an empty file (0 bytes); nothing was scored"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"in{suffix}"]


def test_a_misspelt_model_name_is_told_the_models_the_repository_holds(
    churn_repo: Path, tmp_path: Path
) -> None:
    source = write_table(rows(5), tmp_path / "in.csv")
    settings = churn_job(churn_repo, source, tmp_path / "o.csv").model_copy(
        update={"model": "chrun"}
    )
    with pytest.raises(ScoringError, match=r"the model's name \(it holds: churn\)$"):
        run_scoring(settings)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_missing_key_column_is_named_as_the_key(churn_repo: Path, tmp_path: Path) -> None:
    source = write_table(rows(50), tmp_path / "in.csv")
    with pytest.raises(SchemaMismatchError, match=r"lacks column\(s\) id \(the --key column\);"):
        run_scoring(churn_job(churn_repo, source, tmp_path / "o.csv", key_column="id"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_missing_column_is_refused_before_anything_is_written(
    churn_repo: Path, tmp_path: Path
) -> None:
    source = write_table(rows(50).drop(columns=["plan"]), tmp_path / "in.csv")
    with pytest.raises(SchemaMismatchError, match=r"lacks column.*plan"):
        run_scoring(churn_job(churn_repo, source, tmp_path / "o.csv"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_wrong_type_is_refused_before_anything_is_written(churn_repo: Path, tmp_path: Path) -> None:
    frame = rows(50).astype({"age": object})
    frame.loc[7, "age"] = "seven"
    source = write_table(frame, tmp_path / "in.jsonl")
    with pytest.raises(SchemaMismatchError, match="age"):
        run_scoring(churn_job(churn_repo, source, tmp_path / "o.csv"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_crash_then_rerun_scores_each_row_exactly_once(
    churn_repo: Path, mixed_classifier: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = rows(1000)
    source = write_table(frame, tmp_path / "in.parquet")
    output = tmp_path / "out.jsonl"
    settings = churn_job(churn_repo, source, output, rows_per_chunk=150)
    scored_rows: list[int] = []
    original_score = InProcessScorer.score

    def crash_on_fourth_chunk(self: InProcessScorer, chunk: pd.DataFrame) -> Any:
        if len(scored_rows) >= 450:
            raise RuntimeError("node lost")
        scored_rows.extend(chunk.row_numbers)
        return original_score(self, chunk)

    monkeypatch.setattr(InProcessScorer, "score", crash_on_fourth_chunk)
    with pytest.raises(RuntimeError, match="node lost"):
        run_scoring(settings)
    assert not output.exists()
    assert not manifest_path(output).exists()
    assert len(list(work_directory(output).glob("chunk-*.arrow"))) == 3

    def counting_score(self: InProcessScorer, chunk: pd.DataFrame) -> Any:
        scored_rows.extend(chunk.row_numbers)
        return original_score(self, chunk)

    monkeypatch.setattr(InProcessScorer, "score", counting_score)
    manifest = run_scoring(settings)
    assert len(scored_rows) == 1000  # 450 before the crash + 550 after: none twice
    assert manifest.chunks_resumed == 3
    scored = read_table(output)
    assert scored["row"].tolist() == list(range(1000))
    assert scored["label"].tolist() == mixed_classifier.model.predict(frame).tolist()


def test_crash_before_the_manifest_is_finished_by_the_rerun(
    churn_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelship_serving.scoring import destination
    from modelship_serving.scoring.destination import atomic_write_text

    source = write_table(rows(300), tmp_path / "in.csv")
    output = tmp_path / "out.csv"
    settings = churn_job(churn_repo, source, output, rows_per_chunk=100)

    def crash_on_manifest(path: Path, text: str) -> None:
        if path.name.endswith(".manifest.json"):
            raise RuntimeError("node lost")
        atomic_write_text(path, text)

    monkeypatch.setattr(destination, "atomic_write_text", crash_on_manifest)
    with pytest.raises(RuntimeError, match="node lost"):
        run_scoring(settings)
    published = output.read_bytes()
    assert not manifest_path(output).exists()
    monkeypatch.undo()
    manifest = run_scoring(settings)
    assert (manifest.rows_out, output.read_bytes()) == (300, published)
    assert manifest_path(output).is_file()
    assert not work_directory(output).exists()


def test_partial_work_of_another_job_is_discarded(churn_repo: Path, tmp_path: Path) -> None:
    source = write_table(rows(100), tmp_path / "in.csv")
    output = tmp_path / "out.csv"
    stale = work_directory(output)
    stale.mkdir()
    (stale / "state.json").write_text('{"input": "something else"}')
    write_chunk(pa.table({"row": [0], "label": ["bogus"]}), stale / chunk_name(0))
    (stale / "chunk-00000000.counts.json").write_text("{}")
    run_scoring(
        ScoreSettings(
            model_repo=churn_repo, model="churn", input_uri=str(source), output_uri=str(output)
        )
    )
    assert "bogus" not in pd.read_csv(output)["label"].tolist()


def test_existing_output_is_refused(churn_repo: Path, tmp_path: Path) -> None:
    source = write_table(rows(10), tmp_path / "in.csv")
    (tmp_path / "out.csv").write_text("keep me")
    with pytest.raises(ScoringError, match="already exists"):
        run_scoring(churn_job(churn_repo, source, tmp_path / "out.csv"))
    assert (tmp_path / "out.csv").read_text() == "keep me"


def test_drift_is_reported_for_a_shifted_batch(churn_repo: Path, tmp_path: Path) -> None:
    frame = rows(800)
    frame["age"] = frame["age"] + 40  # everyone is older than anyone in training
    frame["city"] = "marseille"  # a city never seen
    source = write_table(frame, tmp_path / "in.csv")
    manifest = run_scoring(churn_job(churn_repo, source, tmp_path / "o.csv", rows_per_chunk=300))
    assert manifest.drifted_features == ["age", "city"]
    report = json.loads((tmp_path / "o.csv.drift.json").read_text())
    assert report["features"]["city"]["unseen_fraction"] == 1.0
    assert report["features"]["plan"]["psi"] < 0.1
    assert report["rows"] == 800


def test_psi_of_identical_distributions_is_zero() -> None:
    assert population_stability_index([10, 20, 30], [1, 2, 3]) == pytest.approx(0.0)
    assert population_stability_index([10, 0], [0, 10]) > 1


def test_cli_score_and_its_errors(churn_repo: Path, tmp_path: Path, score_cli: Any) -> None:
    source = write_table(rows(120), tmp_path / "in.csv")
    options = ["--batch-size", "50", "--key", "customer"]
    done = score_cli(churn_repo, "churn", source, tmp_path / "out.parquet", *options)
    assert done.exit_code == 0, done.output
    assert "scored 120 rows with churn v1" in done.output
    refused = score_cli(churn_repo, "nope", source, tmp_path / "o2.parquet")
    assert refused.exit_code == 1
    assert "Error:" in refused.output
    assert "Traceback" not in refused.output


def test_input_format_overrides_the_extension(
    churn_repo: Path, tmp_path: Path, score_cli: Any
) -> None:
    source = tmp_path / "export.txt"
    rows(40).to_json(source, orient="records", lines=True)
    refused = score_cli(churn_repo, "churn", source, tmp_path / "out.csv")
    assert refused.exit_code == 1
    assert "unknown table format '.txt'" in refused.output
    done = score_cli(churn_repo, "churn", source, tmp_path / "out.csv", "--input-format", "jsonl")
    assert done.exit_code == 0, done.output
    assert pd.read_csv(tmp_path / "out.csv")["row"].tolist() == list(range(40))


@pytest.mark.parametrize(("concurrency", "threads"), [(2, 2), (None, 0)])
def test_in_process_threads_follow_concurrency(
    churn_repo: Path, concurrency: int | None, threads: int
) -> None:
    # The batch CronJob passes spec.batch[].concurrency so onnxruntime does not size its
    # thread pool to the host's cores when the pod asked for fewer; 0 is onnxruntime's own choice.
    settings = churn_job(churn_repo, "unused.csv", "unused.csv", concurrency=concurrency)
    metadata = ModelMetadata.model_validate_json(
        (churn_repo / "churn" / METADATA_FILENAME).read_text()
    )
    scorer = make_scorer(settings, metadata, churn_repo / "churn" / "1" / "model.onnx")
    assert isinstance(scorer, InProcessScorer)
    assert scorer.session.get_session_options().intra_op_num_threads == threads


def test_an_unknown_scheme_is_told_every_scheme_score_reads(
    churn_repo: Path, tmp_path: Path
) -> None:
    with pytest.raises(ScoringError) as caught:
        run_scoring(churn_job(churn_repo, "ftp://host/day.csv", tmp_path / "o.csv"))
    assert str(caught.value) == (
        "ftp:// is not supported here; give a path, file://, s3://, gs://, az:// or"
        " (input only) http(s)://"
    )
    assert list(tmp_path.iterdir()) == []
