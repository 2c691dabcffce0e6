"""`modelship score` of tables a user wrote with other tools than pandas: Parquet written by
pyarrow with narrow, half-precision, unsigned, string_view and dictionary columns, gaps in
every column, empty row groups, a timestamp --key; and JSONL whose lines leave keys out, in
the first line or in every line of a chunk. Each output row is the original model's answer
for its input row (a gap in a number as the model's imputer takes it, a gap in a category
as an unseen one)."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from modelship.cli import main
from support.model_zoo import ZOO, Fitted, expected_answers

MODEL_COLUMNS = ["age", "income", "visits", "city", "premium"]


@pytest.fixture(scope="module")
def churn(tmp_path_factory: pytest.TempPathFactory) -> tuple[Fitted, Path]:
    """The zoo's mixed logistic regression (numbers with gaps, a text category, a bool),
    packaged with the CLI; the repository's path."""
    fitted = next(case for case in ZOO if case.name == "logistic-regression-mixed").build()
    folder = tmp_path_factory.mktemp("churn")
    result = fitted.package_with_cli(folder)
    assert result.exit_code == 0, result.output
    return fitted, folder / "repo"


def score(repo: Path, source: Path, output: Path, *options: str) -> pd.DataFrame:
    arguments = ["score", "--model-repo", str(repo), "--model", "m"]
    result = CliRunner().invoke(
        main, [*arguments, "--input", str(source), "--output", str(output), *options]
    )
    assert result.exit_code == 0, result.output
    return pq.read_table(output).to_pandas().sort_values("row").reset_index(drop=True)


def assert_like_original(model: Any, scored: pd.DataFrame, rows: pd.DataFrame) -> None:
    """Row by row, the original's label and probabilities for ``rows`` (a gap: NaN in a
    number, None in the category)."""
    inputs = rows[MODEL_COLUMNS].copy()
    inputs["city"] = inputs["city"].astype(object).where(inputs["city"].notna(), "")
    expected = expected_answers(model, inputs)
    assert scored["row"].tolist() == list(range(len(rows)))
    assert scored["label"].astype(str).tolist() == expected["predict"].astype(str).tolist()
    probabilities = scored[["probabilities_churn", "probabilities_stay"]].to_numpy()
    np.testing.assert_allclose(probabilities, expected["predict_proba"], atol=1e-4)


def gaps(rows: int, start: int) -> np.ndarray[Any, Any]:
    mask = np.zeros(rows, dtype=bool)
    mask[start::7] = True
    return mask


@pytest.mark.parametrize(
    "city_type",
    [pa.large_string(), pa.string_view(), pa.dictionary(pa.int8(), pa.string())],
    ids=["large_string", "string_view", "dictionary-int8"],
)
def test_parquet_written_by_pyarrow_with_odd_types_and_gaps_scores_like_the_original(
    churn: tuple[Fitted, Path], city_type: pa.DataType, tmp_path: Path
) -> None:
    fitted, repo = churn
    held_out = fitted.held_out.reset_index(drop=True)
    count = len(held_out)
    income = np.minimum(held_out["income"].to_numpy(), 65_000)  # float16 holds it
    visits = held_out["visits"].to_numpy().astype(np.uint32)
    table = pa.table(
        {  # another column order than the sample's, and columns the model does not take
            "when": pa.array(
                [datetime.datetime(2024, 3, 31, 1, tzinfo=datetime.UTC)] * count,
                pa.timestamp("ns", tz="Europe/Paris"),
            ),
            "city": pa.array(held_out["city"].tolist(), mask=gaps(count, 4)).cast(city_type),
            "premium": pa.array(held_out["premium"].to_numpy()),
            "visits": pa.array(visits, mask=gaps(count, 3)),
            "income": pa.array(income.astype(np.float16), mask=np.isnan(income)),
            "age": pa.array(held_out["age"].to_numpy().astype(np.int8), mask=gaps(count, 1)),
        }
    )
    source = tmp_path / "in.parquet"
    with pq.ParquetWriter(source, table.schema) as writer:  # row groups of 0, 3, 0 and 57
        for first, rows in [(0, 0), (0, 3), (3, 0), (3, count - 3)]:
            writer.write_table(table.slice(first, rows))

    scored = score(repo, source, tmp_path / "out.parquet", "--key", "when", "--batch-size", "4")

    assert_like_original(fitted.model, scored, table.to_pandas())
    assert set(scored["when"]) == {"2024-03-31 03:00:00.000000000+0200"}


def test_jsonl_lines_leaving_keys_out_score_as_gaps(
    churn: tuple[Fitted, Path], tmp_path: Path
) -> None:
    """The first line lacks "city", and every line of the second chunk lacks "income" (its
    rows have no "income" to read at all): scored as gaps, not refused nor crashed."""
    fitted, repo = churn
    rows = fitted.held_out.reset_index(drop=True)
    source = tmp_path / "in.jsonl"
    with source.open("w") as lines:
        for number, record in enumerate(json.loads(rows.to_json(orient="records"))):
            if number == 0:
                del record["city"]
            if number in (2, 3):
                del record["income"]
            lines.write(json.dumps(record) + "\n")
    rows.loc[0, "city"] = None
    rows.loc[[2, 3], "income"] = np.nan

    scored = score(repo, source, tmp_path / "out.parquet", "--batch-size", "2")

    assert_like_original(fitted.model, scored, rows)


def test_a_hive_partition_key_the_files_lack_is_the_model_column_of_its_rows(
    churn: tuple[Fitted, Path], tmp_path: Path
) -> None:
    """``city=nice/visits=07/`` holds files without "city" and "visits": their rows take the
    folders' values (a number from "07"; Hive's null folder a gap), as Arrow's and Spark's
    readers give them, rather than the input being refused for lacking the columns."""
    fitted, repo = churn
    rows = fitted.held_out.reset_index(drop=True)
    parts = {
        "city=nice/visits=07": rows.iloc[:25].assign(city="nice", visits=7.0),
        "city=__HIVE_DEFAULT_PARTITION__/visits=3": rows.iloc[25:].assign(city=None, visits=3.0),
    }
    for folder, part in parts.items():
        (tmp_path / "in" / folder).mkdir(parents=True)
        in_file = part.drop(columns=["city", "visits"]).reset_index(drop=True)
        pq.write_table(pa.Table.from_pandas(in_file), tmp_path / "in" / folder / "part.parquet")

    scored = score(repo, tmp_path / "in", tmp_path / "out.parquet", "--batch-size", "10")

    for folder, part in parts.items():
        of_part = scored[scored["input_file"] == f"{folder}/part.parquet"]
        assert_like_original(fitted.model, of_part.reset_index(drop=True), part)


def test_a_partition_key_that_is_no_number_for_a_numeric_column_is_refused_naming_both(
    churn: tuple[Fitted, Path], tmp_path: Path
) -> None:
    fitted, repo = churn
    folder = tmp_path / "in" / "visits=many"
    folder.mkdir(parents=True)
    pq.write_table(
        pa.Table.from_pandas(fitted.held_out.drop(columns=["visits"])), folder / "p.parquet"
    )
    output = tmp_path / "out.parquet"
    arguments = ["score", "--model-repo", str(repo), "--model", "m"]
    result = CliRunner().invoke(
        main, [*arguments, "--input", str(tmp_path / "in"), "--output", str(output)]
    )
    assert result.exit_code != 0
    assert "column 'visits' must be numeric but holds 'many'" in result.output
    assert "visits=many/p.parquet" in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in"]


@pytest.mark.parametrize(
    ("keys", "said"),
    [
        (lambda count: pa.array([[row] for row in range(count)]), "holds list<element: int64>"),
        (lambda count: pa.array([{"id": row} for row in range(count)]), "holds struct<id: int64>"),
        (
            lambda count: pa.array([b"\xff\xfe", *[b"ok"] * (count - 1)]),
            "holds bytes that are not UTF-8 text (row 0)",
        ),
    ],
    ids=["list", "struct", "bytes-not-utf8"],
)
def test_a_key_that_cannot_be_text_is_refused_before_anything_is_scored(
    churn: tuple[Fitted, Path], keys: Any, said: str, tmp_path: Path
) -> None:
    fitted, repo = churn
    table = pa.Table.from_pandas(fitted.held_out, preserve_index=False)
    source = tmp_path / "in.parquet"
    pq.write_table(table.append_column("id", keys(table.num_rows)), source)
    arguments = ["score", "--model-repo", str(repo), "--model", "m", "--key", "id"]
    result = CliRunner().invoke(
        main, [*arguments, "--input", str(source), "--output", str(tmp_path / "out.parquet")]
    )
    assert result.exit_code != 0
    assert f"column 'id' (--key) {said}" in result.output
    assert "Traceback" not in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.parquet"]


def test_key_bytes_that_are_not_utf8_in_a_later_chunk_stop_the_run_naming_the_row(
    churn: tuple[Fitted, Path], tmp_path: Path
) -> None:
    fitted, repo = churn
    table = pa.Table.from_pandas(fitted.held_out, preserve_index=False)
    ids = [b"ok"] * table.num_rows
    ids[30] = b"\xff\xfe"
    source = tmp_path / "in.parquet"
    pq.write_table(table.append_column("id", pa.array(ids)), source)
    arguments = ["score", "--model-repo", str(repo), "--model", "m", "--key", "id"]
    result = CliRunner().invoke(
        main,
        [*arguments, "--input", str(source), "--output", str(tmp_path / "out.parquet"),
         "--batch-size", "25"],
    )  # fmt: skip
    assert result.exit_code != 0
    assert result.output.strip().splitlines()[-1] == (
        "Error: column 'id' (--key) holds bytes that are not UTF-8 text (row 30);"
        " give a --key column of text, numbers, dates or times"
    )
    assert not (tmp_path / "out.parquet").exists()


def read_dataset(folder: Path) -> pd.DataFrame:
    """The output folder as any reader of a dataset takes it: every part file."""
    table = pq.read_table(folder, ignore_prefixes=["_", "."])
    return table.to_pandas().sort_values(["input_file", "row"], ignore_index=True)


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_a_row_group_of_no_rows_shared_among_shards_leaves_no_unreadable_part(
    churn: tuple[Fitted, Path], order: tuple[int, int], tmp_path: Path
) -> None:
    """Row groups of 0, 3, 0 and 57 rows, by two shards into a dataset: its folder reads as
    Parquet (an empty row group's part was a 0-byte file, which no reader opens)."""
    fitted, repo = churn
    rows = fitted.held_out.reset_index(drop=True)
    table = pa.Table.from_pandas(rows, preserve_index=False)
    source = tmp_path / "in.parquet"
    with pq.ParquetWriter(source, table.schema) as writer:
        for first, count in [(0, 0), (0, 3), (3, 0), (3, len(rows) - 3)]:
            writer.write_table(table.slice(first, count))
    output = tmp_path / "out"
    for index in order:
        result = CliRunner().invoke(
            main,
            ["score", "--model-repo", str(repo), "--model", "m", "--input", str(source),
             "--output", f"{output}/", "--shards", "2", "--shard-index", str(index)],
        )  # fmt: skip
        assert result.exit_code == 0, result.output

    scored = pq.read_table(output, ignore_prefixes=["_", "."]).to_pandas()
    assert_like_original(fitted.model, scored.sort_values("row", ignore_index=True), rows)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_an_empty_file_in_a_dataset_is_scored_as_no_rows_not_refused(
    churn: tuple[Fitted, Path], fmt: str, tmp_path: Path
) -> None:
    """Spark writes an empty part file (and _SUCCESS) for an empty partition: the dataset is
    scored, the empty file giving no rows and no part, rather than the job refused."""
    fitted, repo = churn
    rows = fitted.held_out.reset_index(drop=True)
    folder = tmp_path / "in"
    folder.mkdir()
    pieces = {"part-0": rows.iloc[:30], "part-1": rows.iloc[:0], "part-2": rows.iloc[30:]}
    for name, piece in pieces.items():
        if fmt == "parquet":
            piece.to_parquet(folder / f"{name}.parquet")
        else:
            piece.to_csv(folder / f"{name}.csv", index=False)
    (folder / "_SUCCESS").write_text("")

    result = CliRunner().invoke(
        main,
        ["score", "--model-repo", str(repo), "--model", "m", "--input", str(folder),
         "--output", f"{tmp_path / 'out'}/"],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    scored = read_dataset(tmp_path / "out")
    assert sorted(set(scored["input_file"])) == [f"part-0.{fmt}", f"part-2.{fmt}"]
    for name in ("part-0", "part-2"):
        of_file = scored[scored["input_file"] == f"{name}.{fmt}"].reset_index(drop=True)
        assert_like_original(fitted.model, of_file, pieces[name].reset_index(drop=True))


def test_jsonl_with_a_byte_order_mark_scores_like_the_original(
    churn: tuple[Fitted, Path], tmp_path: Path
) -> None:
    """Windows tools start UTF-8 with a byte order mark; pandas reads a CSV's, and a JSONL's
    was refused as "Expected object or value"."""
    fitted, repo = churn
    rows = fitted.held_out.reset_index(drop=True)
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\xef\xbb\xbf" + rows.to_json(orient="records", lines=True).encode())

    scored = score(repo, source, tmp_path / "out.parquet")

    assert_like_original(fitted.model, scored, rows)


@pytest.mark.parametrize("key", ["row", "label", "probabilities_churn"])
def test_a_key_named_like_an_output_column_is_refused_rather_than_overwritten(
    churn: tuple[Fitted, Path], key: str, tmp_path: Path
) -> None:
    """The output's columns were a dict by name: a --key "row" replaced the row numbers, a
    --key "label" was replaced by the labels, without a word."""
    fitted, repo = churn
    rows = fitted.held_out.reset_index(drop=True).assign(**{key: "id"})
    source = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), source)
    arguments = ["score", "--model-repo", str(repo), "--model", "m", "--key", key]
    result = CliRunner().invoke(
        main, [*arguments, "--input", str(source), "--output", str(tmp_path / "out.parquet")]
    )
    assert result.exit_code != 0
    assert result.output.startswith(f"Error: --key {key!r} has the name of an output column")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.parquet"]


def test_a_key_that_only_starts_like_an_output_is_carried(
    churn: tuple[Fitted, Path], tmp_path: Path
) -> None:
    fitted, repo = churn
    rows = fitted.held_out.reset_index(drop=True)
    rows["label_id"] = [f"id-{number}" for number in range(len(rows))]
    source = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), source)

    scored = score(repo, source, tmp_path / "out.parquet", "--key", "label_id")

    assert scored["label_id"].tolist() == rows["label_id"].tolist()
    assert_like_original(fitted.model, scored, rows)
