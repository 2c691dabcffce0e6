"""The pinned fallback: a model no converter carries ships as its pickle with the exact
library versions it needs, says so and why, refuses to load where those versions differ,
refuses to package what cannot be pinned, and is scored by `modelship score` like any
package."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from modelship.cli import main
from modelship_serving.errors import ScoringError, UnsupportedModelError
from modelship_serving.packaging import sources as package_sources
from modelship_serving.packaging.fallback import PickledScorer
from modelship_serving.packaging.package import PackageResult, package_model
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from support import model_zoo as zoo


def package_fitted(fitted: zoo.Fitted, tmp_path: Path, **options: Any) -> PackageResult:
    fitted.write(tmp_path / "model.joblib", tmp_path / "sample.parquet")
    return package_model(
        tmp_path / "model.joblib", tmp_path / "sample.parquet", "m", "1", tmp_path / "repo",
        **options,
    )  # fmt: skip


def assert_refused_in_one_line(error: pytest.ExceptionInfo[Any], tmp_path: Path) -> None:
    assert "\n" not in str(error.value)
    assert not (tmp_path / "repo").exists()
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []


@pytest.fixture(scope="module")
def log_ridge() -> zoo.Fitted:
    return zoo.ZOO[[case.name for case in zoo.ZOO].index("log-transform-then-ridge")].build()


def test_the_pickle_ships_with_the_exact_versions_it_needs(
    log_ridge: zoo.Fitted, tmp_path: Path
) -> None:
    import scipy
    import sklearn

    result = package_fitted(log_ridge, tmp_path)

    version_dir = result.model_dir / "1"
    assert sorted(path.name for path in version_dir.iterdir()) == [
        "environment.json", "model.pkl", "model.py", "requirements.txt"
    ]  # fmt: skip
    assert (version_dir / "model.pkl").read_bytes() == (tmp_path / "model.joblib").read_bytes()
    environment = json.loads((version_dir / "environment.json").read_text())
    assert environment["python"] == ".".join(map(str, sys.version_info[:3]))
    packages = environment["packages"]
    assert packages["scikit-learn"] == sklearn.__version__
    assert packages["numpy"] == np.__version__  # the model's np.log1p, and the runner's own
    assert packages["scipy"] == scipy.__version__
    assert f"scikit-learn=={sklearn.__version__}" in (version_dir / "requirements.txt").read_text()
    config = (result.model_dir / "config.pbtxt").read_text()
    assert 'backend: "python"' in config
    assert "TYPE_FP64" in config  # numbers reach the pickle unrounded
    metadata = result.metadata
    assert metadata.source_format == "pickle"
    assert metadata.model_file == "1/model.pkl"
    assert metadata.fallback_reason is not None
    assert "FunctionTransformer is not supported" in metadata.fallback_reason
    assert metadata.parity is not None
    assert metadata.parity.rows_checked == len(log_ridge.sample)
    assert [(o.name, o.role) for o in metadata.outputs] == [("prediction", "prediction")]


def test_a_version_mismatch_refuses_to_load_in_one_line_naming_it(
    log_ridge: zoo.Fitted, tmp_path: Path
) -> None:
    result = package_fitted(log_ridge, tmp_path)
    manifest = result.model_dir / "1/environment.json"
    environment = json.loads(manifest.read_text())
    environment["packages"]["scikit-learn"] = "0.24.2"
    manifest.write_text(json.dumps(environment))

    with pytest.raises(ScoringError) as caught:
        PickledScorer(result.model_dir / result.metadata.model_file, result.metadata)
    message = str(caught.value)
    assert "\n" not in message
    assert "scikit-learn==0.24.2 (here " in message
    assert "requirements.txt" in message


def test_no_fallback_refuses_with_the_converters_reason(
    log_ridge: zoo.Fitted, tmp_path: Path
) -> None:
    with pytest.raises(UnsupportedModelError, match="FunctionTransformer") as caught:
        package_fitted(log_ridge, tmp_path, fallback=False)
    assert_refused_in_one_line(caught, tmp_path)


def double(values: Any) -> Any:
    return values * 2.0


def test_code_from_the_notebook_cannot_be_pinned(
    log_ridge: zoo.Fitted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(double, "__module__", "__main__")
    monkeypatch.setattr(sys.modules["__main__"], "double", double, raising=False)
    model = make_pipeline(FunctionTransformer(double), Ridge())
    model.fit(log_ridge.sample, log_ridge.sample["age"])
    with pytest.raises(
        UnsupportedModelError, match=r"defined in the notebook .*__main__"
    ) as caught:
        package_fitted(zoo.Fitted(model, log_ridge.sample, log_ridge.held_out), tmp_path)
    assert_refused_in_one_line(caught, tmp_path)


def test_a_module_no_distribution_provides_cannot_be_pinned(
    log_ridge: zoo.Fitted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "churn_features.py").write_text("def triple(values):\n    return values * 3.0\n")
    monkeypatch.syspath_prepend(str(code))
    import churn_features  # type: ignore[import-not-found]

    model = make_pipeline(FunctionTransformer(churn_features.triple), Ridge())
    model.fit(log_ridge.sample, log_ridge.sample["age"])
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(UnsupportedModelError, match="module 'churn_features'") as caught:
        package_fitted(zoo.Fitted(model, log_ridge.sample, log_ridge.held_out), work)
    assert_refused_in_one_line(caught, work)


def test_cli_says_it_fell_back_and_why(log_ridge: zoo.Fitted, tmp_path: Path) -> None:
    joblib.dump(log_ridge.model, tmp_path / "model.joblib")
    log_ridge.sample.to_parquet(tmp_path / "sample.parquet")
    arguments = ["package", str(tmp_path / "model.joblib"), "--sample",
                 str(tmp_path / "sample.parquet"), "--name", "m", "--version", "1"]  # fmt: skip

    result = CliRunner().invoke(main, [*arguments, "--output", str(tmp_path / "repo")])
    assert result.exit_code == 0, result.output
    assert "fallback: no converter carries this model (skl2onnx cannot convert" in result.output
    assert "python backend: slower than ONNX" in result.output
    assert "float64 retry" not in result.output  # its FP64 inputs are no retry
    assert "python backend" in result.output

    refused = CliRunner().invoke(
        main, [*arguments, "--output", str(tmp_path / "r2"), "--no-fallback"]
    )
    assert refused.exit_code == 1
    assert len(refused.output.strip().splitlines()) == 1
    assert not (tmp_path / "r2").exists()


def test_score_reads_a_fallback_package(
    log_ridge: zoo.Fitted, tmp_path: Path, score_cli: Callable[..., Result]
) -> None:
    result = package_fitted(log_ridge, tmp_path)
    log_ridge.held_out.to_parquet(tmp_path / "day.parquet")
    scored = score_cli(
        tmp_path / "repo", "m", tmp_path / "day.parquet", tmp_path / "scores.parquet"
    )
    assert scored.exit_code == 0, scored.output
    scores = pd.read_parquet(tmp_path / "scores.parquet")
    np.testing.assert_allclose(
        scores["prediction"].to_numpy(), log_ridge.model.predict(log_ridge.held_out), rtol=1e-5
    )
    assert result.metadata.backend == "python"


def test_a_fallback_classifier_has_the_outputs_of_a_converted_one(tmp_path: Path) -> None:
    fitted = zoo.ZOO[[case.name for case in zoo.ZOO].index("label-spreading")].build()
    result = package_fitted(fitted, tmp_path)
    assert [(o.name, o.role, o.dims) for o in result.metadata.outputs] == [
        ("label", "label", [1]),
        ("probabilities", "scores", [2]),
    ]


@pytest.mark.parametrize(
    "case_name", ["tfidf-on-a-series", "tfidf-in-column-transformer", "logistic-regression-mixed"]
)
def test_text_gaps_and_series_reach_the_pickle_as_in_training(
    case_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Models a converter carries, sent down the fallback: its runner must rebuild the Series,
    # the text gaps ("" in a string tensor) and the bool columns the original was trained on.
    case = zoo.ZOO[[case.name for case in zoo.ZOO].index(case_name)]
    if case.library is not None and importlib.util.find_spec(case.library) is None:
        pytest.skip(f"{case.library} is not installed (the boosting extra)")

    def no_converter(model: Any, schema: Any, precision: Any = "float32") -> Any:
        raise UnsupportedModelError("no converter (test)")

    monkeypatch.setattr(package_sources, "convert_sklearn_model", no_converter)
    fitted = case.build()
    result = package_fitted(fitted, tmp_path)
    assert result.metadata.fallback_reason == "no converter (test)"
    answers = PickledScorer(result.model_dir / result.metadata.model_file, result.metadata).score(
        fitted.held_out
    )
    expected = zoo.expected_answers(fitted.model, fitted.held_out)
    assert answers["label"].astype(str).tolist() == expected["predict"].astype(str).tolist()
    np.testing.assert_allclose(answers["probabilities"], expected["predict_proba"], atol=1e-6)
