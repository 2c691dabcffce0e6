"""Every way `modelship package` refuses is one `Error:` line that says what to do, and
leaves nothing behind: no model directory, no archive, no staging folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest
from click.testing import CliRunner
from modelship.cli import main
from sklearn.semi_supervised import LabelSpreading


@pytest.fixture
def inputs(iris_classifier: Any, tmp_path: Path) -> dict[str, Path]:
    """Model files next to an empty work folder the command writes into."""
    files = tmp_path / "inputs"
    files.mkdir()
    sample = pd.read_csv(iris_classifier.sample_path)
    joblib.dump(LabelSpreading().fit(sample, iris_classifier.model.predict(sample)),
                files / "spreading.joblib")  # fmt: skip
    sample.drop(columns=sample.columns[0]).to_csv(files / "short.csv", index=False)
    (files / "empty.csv").write_bytes(b"")
    work = tmp_path / "work"
    work.mkdir()
    (work / "taken").mkdir()  # a model directory that exists already
    return {
        "iris": iris_classifier.model_path,
        "sample": iris_classifier.sample_path,
        "spreading": files / "spreading.joblib",
        "short": files / "short.csv",
        "empty": files / "empty.csv",
        "work": work,
    }


def iris(*options: str) -> list[str]:
    """The arguments that package the iris model with its sample, then ``options``."""
    return ["{iris}", "--sample", "{sample}", *options]


REFUSALS: dict[str, tuple[list[str], str]] = {
    "no such model": (["{work}/none.joblib", "--sample", "{sample}"], "does not exist"),
    "sample lacks a column": (["{iris}", "--sample", "{short}"], "lacks column"),
    "empty sample file": (["{iris}", "--sample", "{empty}"], "is an empty file (0 bytes)"),
    "no converter, no fallback": (
        ["{spreading}", "--sample", "{sample}", "--no-fallback"],
        "skl2onnx cannot convert LabelSpreading",
    ),
    "parity fails, no fallback": (
        iris("--no-fallback", "--atol", "1e-12", "--rtol", "0"),
        "differs too",
    ),
    "classes for a scikit-learn model": (iris("--classes", "a,b,c"), "--classes is for ONNX files"),
    "push to a directory": (iris("--push", "s3://bucket/iris/"), "must name a .tar.gz archive"),
    "push into a missing directory": (
        iris("--push", "file:///no/such/dir/iris-1.tar.gz"),
        "directory /no/such/dir does not exist; create it first (mkdir -p)",
    ),
    "existing model directory": (iris("--name", "taken"), "already exists"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_refusal_is_one_line_and_leaves_nothing(case: str, inputs: dict[str, Path]) -> None:
    arguments, said = REFUSALS[case]
    work = inputs["work"]
    before = sorted(path.relative_to(work) for path in work.rglob("*"))
    command = ["package", *(argument.format(**inputs) for argument in arguments)]
    if "--name" not in command:
        command += ["--name", "iris"]
    command += ["--version", "1", "--output", str(work), "--archive", str(work / "iris.tar.gz")]

    result = CliRunner().invoke(main, command)

    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    assert said in lines[0]
    assert sorted(path.relative_to(work) for path in work.rglob("*")) == before
