"""`modelship package` against hostile or unlucky inputs: each ends with one line saying
what to fix (exit 1, no traceback), and a failure leaves nothing behind that would block
the rerun: a pickle whose loading raises, a Parquet or CSV sample with two columns of one
name, a ';'-separated CSV sample, a nested (list or struct) column the model takes,
an --output that cannot be written, an --archive whose write fails once the model
directory is written (in a new repository and in one holding other models)."""

from __future__ import annotations

import errno
import operator
import pickle
import tarfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result
from modelship.cli import main


def package(model: Path, sample: Path, output: Path, *extra: str, name: str = "m") -> Result:
    return CliRunner().invoke(
        main,
        [
            "package",
            str(model),
            "--sample",
            str(sample),
            "--name",
            name,
            "--version",
            "1",
            "--output",
            str(output),
            *extra,
        ],
    )


def assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, OSError | RecursionError), result.exception
    assert result.output.startswith("Error: "), result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    for fragment in fragments:
        assert fragment in result.output


class _RaisesOnLoad:
    def __init__(self, function: Any, arguments: tuple[Any, ...]) -> None:
        self.reduced = (function, arguments)

    def __reduce__(self) -> Any:
        return self.reduced


@pytest.mark.parametrize(
    ("function", "arguments", "raised"),
    [
        (operator.truediv, (1, 0), "ZeroDivisionError"),
        (len, (5,), "TypeError"),
        (operator.getitem, ({}, "missing"), "KeyError"),
        (pd.Timestamp, ("not a date",), "DateParseError"),
    ],
)
def test_a_pickle_whose_loading_raises_is_one_line(
    function: Any, arguments: tuple[Any, ...], raised: str, mixed_classifier: Any, tmp_path: Path
) -> None:
    model = tmp_path / "model.pkl"
    model.write_bytes(pickle.dumps(_RaisesOnLoad(function, arguments)))
    result = package(model, mixed_classifier.sample_path, tmp_path / "repo")
    assert_one_line_error(result, str(model), raised)
    assert not (tmp_path / "repo").exists()


def parquet_with_a_name_twice(frame: pd.DataFrame, sample: Path) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table.append_column(table.schema.field("age"), table["age"]), sample)


def csv_with_a_name_twice(frame: pd.DataFrame, sample: Path) -> None:
    # pandas would read the second 'age' as 'age.1' and the model would take the first
    frame.rename(columns={"income": "age"}).to_csv(sample, index=False)


def csv_separated_by_semicolons(decimal: str) -> Any:
    def write(frame: pd.DataFrame, sample: Path) -> None:
        frame.to_csv(sample, index=False, sep=";", decimal=decimal)

    return write


@pytest.mark.parametrize(
    ("suffix", "write", "said"),
    [
        (".parquet", parquet_with_a_name_twice, ["column 'age' appears 2 times"]),
        (".csv", csv_with_a_name_twice, ["column 'age' appears 2 times"]),
        (".csv", csv_separated_by_semicolons("."), ["reads as one column", "by ';', not ','"]),
        (".csv", csv_separated_by_semicolons(","), ["reads as one column", "by ';', not ','"]),
    ],
    ids=["parquet-name-twice", "csv-name-twice", "csv-semicolons", "csv-semicolons-commas"],
)
def test_a_sample_whose_header_would_be_misread_is_one_line(
    suffix: str, write: Any, said: list[str], mixed_classifier: Any, tmp_path: Path
) -> None:
    sample = tmp_path / f"sample{suffix}"
    write(pd.read_parquet(mixed_classifier.sample_path), sample)
    result = package(mixed_classifier.model_path, sample, tmp_path / "repo")
    assert_one_line_error(result, *said)
    assert not (tmp_path / "repo").exists()


def test_a_csv_sample_with_a_byte_order_mark_packages(
    mixed_classifier: Any, tmp_path: Path
) -> None:
    frame = pd.read_parquet(mixed_classifier.sample_path)
    sample = tmp_path / "sample.csv"
    frame.to_csv(sample, index=False, encoding="utf-8-sig")  # as Excel writes it
    result = package(mixed_classifier.model_path, sample, tmp_path / "repo")
    assert result.exit_code == 0, result.output
    assert "inputs:  age:numeric" in result.output  # not '\ufeffage'


@pytest.mark.parametrize(
    ("nested", "kind"), [([1.0, 2.0], "lists"), ({"years": 40, "source": "crm"}, "records")]
)
def test_a_parquet_sample_with_a_nested_model_column_is_one_line(
    nested: Any, kind: str, mixed_classifier: Any, tmp_path: Path
) -> None:
    table = pq.read_table(mixed_classifier.sample_path)
    column = table.schema.get_field_index("age")
    table = table.set_column(column, "age", pa.array([nested] * table.num_rows))
    sample = tmp_path / "sample.parquet"
    pq.write_table(table, sample)
    result = package(mixed_classifier.model_path, sample, tmp_path / "repo")
    assert_one_line_error(result, f"sample column 'age' holds {kind}", "give the flat column")
    assert not (tmp_path / "repo").exists()


def test_a_nested_column_the_model_does_not_take_is_ignored(
    mixed_classifier: Any, tmp_path: Path
) -> None:
    table = pq.read_table(mixed_classifier.sample_path)
    table = table.append_column("tags", pa.array([["new", "web"]] * table.num_rows))
    sample = tmp_path / "sample.parquet"
    pq.write_table(table, sample)
    result = package(mixed_classifier.model_path, sample, tmp_path / "repo")
    assert result.exit_code == 0, result.output
    assert "tags" not in result.output.splitlines()[1]  # the inputs line


def test_an_output_that_cannot_be_written_is_one_line(
    mixed_classifier: Any, tmp_path: Path
) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("a file where the repository's parent folder should be")
    result = package(
        mixed_classifier.model_path, mixed_classifier.sample_path, not_a_folder / "repo"
    )
    assert_one_line_error(result, f"cannot write {not_a_folder}")


@pytest.mark.parametrize("repository", ["new", "with another model"])
def test_an_archive_that_fails_leaves_nothing_and_the_rerun_works(
    repository: str, mixed_classifier: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, sample = mixed_classifier.model_path, mixed_classifier.sample_path
    repo, archive = tmp_path / "repo", tmp_path / "m.tar.gz"
    if repository != "new":
        assert package(model, sample, repo, name="other").exit_code == 0
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))

    def no_space(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tarfile.TarFile, "add", no_space)
    failed = package(model, sample, repo, "--archive", str(archive))
    assert_one_line_error(failed, str(archive), "No space left on device")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    monkeypatch.undo()

    rerun = package(model, sample, repo, "--archive", str(archive))
    assert rerun.exit_code == 0, rerun.output
    assert archive.is_file()
    assert (repo / "m" / "config.pbtxt").is_file()
