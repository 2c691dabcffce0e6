"""`modelship compare` against two real Tritons: one serving a classifier and a regressor, the
other the same models or ones trained on shuffled labels (the same name, inputs and outputs,
other answers). The same model agrees on every row; the shuffled one does not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from modelship.cli import main
from modelship_serving.compare import CompareSettings, Thresholds, compare, reference_table
from modelship_serving.errors import ModelshipServingError
from modelship_serving.metadata import read_model_metadata
from modelship_serving.packaging.package import package_model
from modelship_serving.triton.server import TritonServer, TritonServerSettings
from support.sklearn_models import churn_classifier, mixed_frame, spend_regressor

pytestmark = pytest.mark.triton


def _repository(work: Path, shuffled: bool) -> Path:
    """`churn` and `spend`, trained on `train` as it is, or on its labels shuffled."""
    train = mixed_frame(400, 1)
    classifier, regressor = churn_classifier(train), spend_regressor(train)
    if shuffled:
        rng = np.random.default_rng(3)
        labels = rng.permutation(classifier.predict(train))
        classifier = churn_classifier(train).fit(train, labels)
        regressor = spend_regressor(train).fit(train, rng.permutation(regressor.predict(train)))
    train.to_csv(work / "train.csv", index=False)
    repository = work / "repository"
    for name, model in (("churn", classifier), ("spend", regressor)):
        joblib.dump(model, work / f"{name}.joblib")
        package_model(work / f"{name}.joblib", work / "train.csv", name, "1", repository)
    return repository


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, TritonServer]]:
    """Triton serving the models as trained ("stable"), and the shuffled ones ("shuffled")."""
    servers: dict[str, TritonServer] = {}
    try:
        for which in ("stable", "shuffled"):
            work = tmp_path_factory.mktemp(which)
            server = TritonServer(
                TritonServerSettings(repository=_repository(work, which != "stable"))
            )
            server.start()
            servers[which] = server
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def _url(server: TritonServer) -> str:
    assert server.endpoints is not None
    return server.endpoints.http


def _settings(servers: dict[str, TritonServer], model: str, candidate: str) -> CompareSettings:
    metadata = read_model_metadata(servers["stable"].settings.repository / model)
    return CompareSettings(metadata, _url(servers["stable"]), _url(servers[candidate]))


def test_the_same_classifier_agrees_on_every_row(served: dict[str, TritonServer]) -> None:
    result = compare(_settings(served, "churn", "stable"))
    assert (result.task, result.rows, result.agreement) == ("classification", 1000, 1.0)


def test_a_classifier_trained_on_shuffled_labels_disagrees(
    served: dict[str, TritonServer],
) -> None:
    settings = _settings(served, "churn", "shuffled")
    result = compare(
        CompareSettings(**{**vars(settings), "thresholds": Thresholds(min_agreement=0.95)})
    )
    assert result.agreement is not None
    assert result.agreement < 0.9
    assert result.verdict == "failed"
    assert "agreement" in result.summary


def test_the_same_regressor_neither_differs_nor_shifts(served: dict[str, TritonServer]) -> None:
    result = compare(_settings(served, "spend", "stable"))
    assert result.mean_abs_diff == 0.0
    assert result.shift is not None
    assert result.shift < 0.01


def test_a_regressor_trained_on_shuffled_targets_shifts(served: dict[str, TritonServer]) -> None:
    result = compare(_settings(served, "spend", "shuffled"))
    assert result.mean_abs_diff is not None
    assert result.mean_abs_diff > 5
    assert result.shift is not None
    assert result.shift > 0.25


def test_the_reference_rows_cover_the_recorded_ranges(served: dict[str, TritonServer]) -> None:
    metadata = read_model_metadata(served["stable"].settings.repository / "churn")
    rows = reference_table(metadata, 1000)
    assert rows["age"].between(18, 79).all()
    assert (rows["age"] == rows["age"].round()).all()
    assert set(rows["city"]) == {"paris", "lyon", "nice"}
    assert rows.equals(reference_table(metadata, 1000)), "every run sends the same rows"


def test_the_cli_writes_its_result_as_the_termination_message(
    served: dict[str, TritonServer], tmp_path: Path
) -> None:
    mixed_frame(50, 9).to_csv(tmp_path / "data.csv", index=False)
    message = tmp_path / "termination-log"
    repository = served["stable"].settings.repository
    args = ["compare", "--model-repo", str(repository), "--model", "churn"]
    args += ["--stable", _url(served["stable"]), "--candidate", _url(served["shuffled"])]
    args += ["--data", str(tmp_path / "data.csv"), "--min-agreement", "0.95"]
    result = CliRunner().invoke(main, [*args, "--termination-path", str(message)])
    assert result.exit_code == 0, "a failed verdict is a result, not an error"
    written = json.loads(message.read_text())
    assert (written["rows"], written["verdict"]) == (50, "failed")
    assert result.output.startswith("churn: labels agree on ")


def test_an_endpoint_that_does_not_answer_is_a_one_line_error(
    served: dict[str, TritonServer], tmp_path: Path
) -> None:
    message = tmp_path / "termination-log"
    repository = served["stable"].settings.repository
    args = ["compare", "--model-repo", str(repository), "--model", "churn"]
    args += ["--stable", _url(served["stable"]), "--candidate", "127.0.0.1:9"]
    result = CliRunner().invoke(main, [*args, "--termination-path", str(message)])
    assert result.exit_code == 1
    assert "the candidate endpoint 127.0.0.1:9 did not answer model churn" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "did not answer" in json.loads(message.read_text())["error"]


def test_data_without_the_model_columns_is_refused(
    served: dict[str, TritonServer], tmp_path: Path
) -> None:
    pd.DataFrame({"other": [1, 2]}).to_csv(tmp_path / "bad.csv", index=False)
    settings = _settings(served, "churn", "stable")
    with pytest.raises(ModelshipServingError, match="age"):
        compare(CompareSettings(**{**vars(settings), "data_uri": str(tmp_path / "bad.csv")}))
