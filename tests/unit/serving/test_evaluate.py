"""`modelship evaluate` on real packaged models: every metric it reports for a binary classifier
(string classes, Parquet holdout), a three-class one (integer classes, JSONL) and a regressor
(CSV) equals scikit-learn's own function on the original estimator's predictions, within
float32 tolerance; a candidate trained on shuffled labels scores clearly worse than its
champion, and the command still exits 0; bad input ends in one `Error:` line, also left in the
termination log; a metric the holdout cannot define is null with a note; the JSON result keeps
its shape, hides credentials in uris and stays under the kubelet's 4096 bytes; decision scores
rank for ROC AUC but give no log loss; the models and the holdout may live in S3; a model of
several outputs (two targets, two labels) is refused in one line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from modelship.cli import main
from modelship_serving.evaluate.metrics import (
    MetricValues,
    classification_metrics,
    parse_metric_names,
)
from modelship_serving.evaluate.report import (
    TERMINATION_MESSAGE_LIMIT,
    Evaluation,
    ModelResult,
)
from modelship_serving.metadata import METADATA_FILENAME, ModelMetadata
from modelship_serving.packaging.package import package_model
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)
from sklearn.pipeline import Pipeline
from support import model_zoo as zoo
from support.object_store import in_process_s3
from support.sklearn_models import mixed_frame, mixed_preprocessing
from support.tables import write_table

# ONNX computes in float32, scikit-learn in float64.
FLOAT32 = {"rel": 1e-4, "abs": 1e-5}


@dataclass(frozen=True)
class Packaged:
    """A packaged model repository and the estimator it was packaged from."""

    repo: Path
    model: Any


def package(model: Any, sample: pd.DataFrame, name: str, where: Path) -> Packaged:
    """`modelship package` of ``model`` with ``sample``, into its own repository."""
    where.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, where / f"{name}.joblib")
    sample.to_parquet(where / f"{name}-sample.parquet", index=False)
    repo = where / f"{name}-repo"
    package_model(where / f"{name}.joblib", where / f"{name}-sample.parquet", name, "1", repo)
    return Packaged(repo, model)


def churn_labels(frame: pd.DataFrame, seed: int, noise: float) -> np.ndarray[Any, Any]:
    """The churn rule, with a share ``noise`` of the labels flipped."""
    labels = np.where((frame["age"] > 45) | (frame["plan"] == "pro"), "yes", "no")
    flip = np.random.default_rng(seed).random(len(frame)) < noise
    return np.where(flip, np.where(labels == "yes", "no", "yes"), labels)


def churn_model(train: pd.DataFrame, labels: np.ndarray[Any, Any]) -> Any:
    return Pipeline(
        [("pre", mixed_preprocessing(scale=True)), ("clf", LogisticRegression(max_iter=1000))]
    ).fit(train, labels)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Packaged]:
    where = tmp_path_factory.mktemp("evaluate")
    train = mixed_frame(400, seed=11)
    labels = churn_labels(train, seed=12, noise=0.1)
    shuffled = np.random.default_rng(13).permutation(labels)
    iris, classes = load_iris(return_X_y=True, as_frame=True)
    spend = train["age"] * 2 + (train["city"] == "nice") * 10
    from sklearn.ensemble import GradientBoostingRegressor

    regressor = Pipeline(
        [
            ("pre", mixed_preprocessing(scale=False)),
            ("reg", GradientBoostingRegressor(n_estimators=25, random_state=0)),
        ]
    ).fit(train, spend)
    return {
        "churn": package(churn_model(train, labels), train, "churn", where),
        "shuffled": package(churn_model(train, shuffled), train, "churn", where / "shuffled"),
        "iris": package(
            LogisticRegression(max_iter=500).fit(iris.iloc[::2], classes.iloc[::2]),
            iris.iloc[::2],
            "iris",
            where,
        ),
        "spend": package(regressor, train, "spend", where),
    }


def churn_holdout(rows: int = 300) -> pd.DataFrame:
    frame = mixed_frame(rows, seed=21)
    frame["churned"] = churn_labels(frame, seed=22, noise=0.15)
    return frame


def iris_holdout() -> pd.DataFrame:
    features, classes = load_iris(return_X_y=True, as_frame=True)
    frame = features.iloc[1::2].reset_index(drop=True)
    frame["species"] = classes.iloc[1::2].to_numpy()
    return frame


def spend_holdout() -> pd.DataFrame:
    frame = mixed_frame(300, seed=31)
    noise = np.random.default_rng(32).normal(0, 8, len(frame))
    frame["spend"] = frame["age"] * 2 + (frame["city"] == "nice") * 10 + noise
    return frame


def evaluate(log: Path, *arguments: str) -> Result:
    """`modelship evaluate` with the termination log at ``log``."""
    return CliRunner().invoke(main, ["evaluate", "--termination-log", str(log), *arguments])


def result_document(result: Result, log: Path) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    text = log.read_text(encoding="utf-8")
    assert len(text.encode()) < TERMINATION_MESSAGE_LIMIT
    assert "\n" not in text
    document: dict[str, Any] = json.loads(text)
    assert set(document) == {"task", "rows", "label", "candidate", "champion"}
    return document


def features(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    return frame.drop(columns=[label])


def churn_pair(
    log: Path, candidate: Path | str, champion: Path | str, data: Path | str, *options: str
) -> Result:
    """`modelship evaluate` of two churn models against the label `churned`."""
    locations = ["--candidate", str(candidate), "--champion", str(champion), "--data", str(data)]
    return evaluate(log, *locations, "--label", "churned", *options)


def evaluated(
    packaged: Packaged, data: Path, label: str, log: Path
) -> tuple[Result, dict[str, Any]]:
    """`modelship evaluate` of ``packaged`` alone on ``data``, and the JSON it wrote."""
    result = evaluate(log, "--candidate", str(packaged.repo), "--data", str(data), "--label", label)
    return result, result_document(result, log)


def original_answers(
    packaged: Packaged, holdout: pd.DataFrame, label: str
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The true labels, and the original classifier's labels and probabilities."""
    rows = features(holdout, label)
    return (
        holdout[label].to_numpy(),
        packaged.model.predict(rows),
        packaged.model.predict_proba(rows),
    )


def assert_metrics_are(document: dict[str, Any], expected: dict[str, float]) -> None:
    """The candidate's metrics are ``expected``, in that order, within float32 tolerance."""
    metrics = document["candidate"]["metrics"]
    assert list(metrics) == list(expected)
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value, **FLOAT32), name


def test_binary_classifier_metrics_are_scikit_learns(
    models: dict[str, Packaged], tmp_path: Path
) -> None:
    holdout = churn_holdout()
    data = write_table(holdout, tmp_path / "holdout.parquet")
    log = tmp_path / "termination-log"
    result = evaluate(log, "--candidate", str(models["churn"].repo), "--data", str(data))
    assert result.exit_code == 2  # --label is required
    assert "--label" in result.output

    result, document = evaluated(models["churn"], data, "churned", log)
    truth, predicted, probabilities = original_answers(models["churn"], holdout, "churned")
    assert list(models["churn"].model.classes_) == ["no", "yes"]  # "yes" is the positive class
    expected = {
        "accuracy": accuracy_score(truth, predicted),
        "f1": f1_score(truth, predicted, pos_label="yes"),
        "roc_auc": roc_auc_score(truth == "yes", probabilities[:, 1]),
        "log_loss": log_loss(truth, probabilities),
    }
    assert document["task"] == "classification"
    assert document["rows"] == 300
    assert document["label"] == "churned"
    assert document["champion"] is None
    assert document["candidate"]["uri"] == str(models["churn"].repo)  # as given
    assert_metrics_are(document, expected)
    summary = result.stdout.strip().splitlines()
    assert len(summary) == 1
    assert "candidate churn v1" in summary[0]
    assert "300 rows" in summary[0]


def test_multiclass_metrics_are_scikit_learns(models: dict[str, Packaged], tmp_path: Path) -> None:
    holdout = iris_holdout()
    data = write_table(holdout, tmp_path / "holdout.jsonl")
    _, document = evaluated(models["iris"], data, "species", tmp_path / "termination-log")
    truth, predicted, probabilities = original_answers(models["iris"], holdout, "species")
    expected = {
        "accuracy": accuracy_score(truth, predicted),
        "f1": f1_score(truth, predicted, average="macro"),
        "roc_auc": roc_auc_score(truth, probabilities, multi_class="ovr", average="macro"),
        "log_loss": log_loss(truth, probabilities),
    }
    assert_metrics_are(document, expected)


def test_regressor_metrics_are_scikit_learns(models: dict[str, Packaged], tmp_path: Path) -> None:
    holdout = spend_holdout()
    data = write_table(holdout, tmp_path / "holdout.csv")
    log = tmp_path / "termination-log"
    result = evaluate(
        log, "--candidate", str(models["spend"].repo), "--data", str(data), "--label", "spend"
    )
    document = result_document(result, log)
    # The CSV round trip is what the command reads; the estimator gets the same values.
    read_back = pd.read_csv(data)
    predicted = models["spend"].model.predict(features(read_back, "spend"))
    truth = read_back["spend"].to_numpy()
    expected = {
        "rmse": root_mean_squared_error(truth, predicted),
        "mae": mean_absolute_error(truth, predicted),
        "r2": r2_score(truth, predicted),
    }
    assert document["task"] == "regression"
    assert_metrics_are(document, expected)


def test_a_package_served_by_the_pinned_fallback_is_evaluated_like_any_other(
    tmp_path: Path,
) -> None:
    """No converter carries a log transform then Ridge: the package holds the pickle, and
    evaluate scores it with the fallback's own runner."""
    fitted = zoo.ZOO[[case.name for case in zoo.ZOO].index("log-transform-then-ridge")].build()
    packaged = package(fitted.model, fitted.sample, "logridge", tmp_path / "fallback")
    holdout = fitted.held_out.assign(target=fitted.model.predict(fitted.held_out) + 0.5)
    data = write_table(holdout, tmp_path / "holdout.parquet")
    log = tmp_path / "termination-log"
    _, document = evaluated(packaged, data, "target", log)
    predicted = fitted.model.predict(fitted.held_out)
    assert document["task"] == "regression"
    assert_metrics_are(
        document,
        {
            "rmse": root_mean_squared_error(holdout["target"], predicted),
            "mae": mean_absolute_error(holdout["target"], predicted),
            "r2": r2_score(holdout["target"], predicted),
        },
    )


def test_a_candidate_trained_on_shuffled_labels_scores_clearly_worse(
    models: dict[str, Packaged], tmp_path: Path
) -> None:
    data = write_table(churn_holdout(), tmp_path / "holdout.parquet")
    log = tmp_path / "termination-log"
    result = churn_pair(
        log, models["shuffled"].repo, models["churn"].repo, data, "--metrics", "roc_auc,accuracy"
    )
    document = result_document(result, log)  # exit 0: the verdict is the operator's
    candidate = document["candidate"]["metrics"]
    champion = document["champion"]["metrics"]
    assert list(candidate) == list(champion) == ["roc_auc", "accuracy"]
    # The champion ranks rows well (0.74 here) where the shuffled candidate does no better
    # than chance (0.36), and it is right on fewer rows (0.68 against 0.81).
    assert champion["roc_auc"] > 0.7
    assert candidate["roc_auc"] < champion["roc_auc"] - 0.2
    assert candidate["accuracy"] < champion["accuracy"] - 0.1
    assert document["champion"]["uri"] == str(models["churn"].repo)


def test_a_metric_the_holdout_cannot_define_is_null_with_a_note(
    models: dict[str, Packaged], tmp_path: Path
) -> None:
    holdout = churn_holdout()
    one_class = holdout[holdout["churned"] == "yes"]
    data = write_table(one_class, tmp_path / "holdout.parquet")
    log = tmp_path / "termination-log"
    result = evaluate(
        log, "--candidate", str(models["churn"].repo), "--data", str(data), "--label", "churned"
    )
    metrics = result_document(result, log)["candidate"]["metrics"]
    assert metrics["roc_auc"] is None
    assert metrics["accuracy"] == pytest.approx(
        float(np.mean(models["churn"].model.predict(features(one_class, "churned")) == "yes")),
        **FLOAT32,
    )
    assert "note: candidate churn v1: roc_auc is null: Only one class" in result.stderr
    assert "n/a" in result.stdout


def empty_file(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def corrupted_model(packaged: Packaged, tmp_path: Path) -> Path:
    """A copy of the repository whose ONNX file is garbage, with a matching recorded sha256
    (the file passes the fetch's checks, and onnxruntime cannot load it)."""
    import hashlib
    import shutil

    repo = tmp_path / "corrupted"
    shutil.copytree(packaged.repo, repo)
    metadata_file = next(repo.glob(f"*/{METADATA_FILENAME}"))
    metadata = ModelMetadata.read(metadata_file)
    model_file = metadata_file.parent / metadata.model_file
    model_file.write_bytes(b"not an onnx model")
    digest = hashlib.sha256(b"not an onnx model").hexdigest()
    metadata.model_copy(update={"model_sha256": digest}).write(metadata_file)
    return repo


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing label", "has no label column 'churn'"),
        ("text label of a regressor", "label column 'city' holds text"),
        ("label of another type", "holds none of the classes of candidate churn v1"),
        ("integer classes from text", "the classes of candidate iris v1 are integers"),
        ("empty label", "label column 'churned' is empty in 1 row(s) (the first is row 3)"),
        ("metric of the other task", "roc_auc are not defined for regression"),
        ("unknown metric", "unknown metric(s) precision"),
        ("different tasks", "the models do different tasks"),
        ("unreadable model", "candidate churn v1 (/"),
        ("not a model repository", "holds no packaged model"),
        ("wrong sha256", "sha256 mismatch"),
        ("empty table", "has no rows"),
        ("empty file", "is an empty file (0 bytes); nothing was evaluated"),
        ("missing table", "does not exist"),
    ],
)
def test_bad_input_is_one_error_line(
    case: str, expected: str, models: dict[str, Packaged], tmp_path: Path
) -> None:
    churn, spend, iris = (str(models[name].repo) for name in ("churn", "spend", "iris"))
    churn_data = write_table(churn_holdout(20), tmp_path / "churn.parquet")
    spend_data = write_table(spend_holdout(), tmp_path / "spend.csv")
    gap = churn_holdout(20)
    gap.loc[3, "churned"] = None
    arguments = {
        "missing label": [churn, churn_data, "churn"],
        "text label of a regressor": [spend, spend_data, "city"],
        "label of another type": [churn, churn_data, "age"],
        "integer classes from text": [
            iris,
            write_table(iris_holdout().assign(species="setosa"), tmp_path / "iris.csv"),
            "species",
        ],
        "empty label": [churn, write_table(gap, tmp_path / "gap.parquet"), "churned"],
        "metric of the other task": [spend, spend_data, "spend", "--metrics", "rmse,roc_auc"],
        "unknown metric": [churn, churn_data, "churned", "--metrics", "accuracy,precision"],
        "different tasks": [churn, churn_data, "churned", "--champion", spend],
        "unreadable model": [
            str(corrupted_model(models["churn"], tmp_path)),
            churn_data,
            "churned",
        ],
        "not a model repository": [str(tmp_path), churn_data, "churned"],
        "wrong sha256": [churn, churn_data, "churned", "--candidate-sha256", "0" * 64],
        "empty table": [churn, write_table(churn_holdout(0), tmp_path / "empty.csv"), "churned"],
        "empty file": [churn, empty_file(tmp_path / "zero.csv"), "churned"],
        "missing table": [churn, tmp_path / "nowhere.csv", "churned"],
    }[case]
    candidate, data, label, *options = arguments
    log = tmp_path / "termination-log"
    result = evaluate(
        log, "--candidate", str(candidate), "--data", str(data), "--label", str(label), *options
    )
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    assert expected in lines[0]
    assert log.read_text(encoding="utf-8") == lines[0]


def test_uris_are_shown_without_credentials(models: dict[str, Packaged], tmp_path: Path) -> None:
    data = write_table(churn_holdout(20), tmp_path / "holdout.parquet")
    log = tmp_path / "termination-log"
    uri = models["churn"].repo.resolve().as_uri()
    result = evaluate(
        log,
        "--candidate",
        f"{uri}?X-Amz-Signature=secret",
        "--data",
        f"{data.as_uri()}",
        "--label",
        "churned",
    )
    document = result_document(result, log)
    assert document["candidate"]["uri"] == uri
    assert "secret" not in result.output


def test_the_termination_message_stays_under_the_kubelets_limit() -> None:
    metrics = MetricValues({"accuracy": 0.1234567890123456, "f1": None, "roc_auc": 1.0})
    long_uri = "s3://models/" + "é" * 5000
    evaluation = Evaluation(
        task="classification",
        rows=10**12,
        label="λ" * 3000,
        candidate=ModelResult(long_uri, "candidate", metrics),
        champion=ModelResult(long_uri + "/champion", "champion", metrics),
    )
    text = evaluation.termination_message()
    assert len(text.encode("utf-8")) < TERMINATION_MESSAGE_LIMIT
    document = json.loads(text)
    assert document["candidate"]["metrics"] == document["champion"]["metrics"] == metrics.values
    assert document["candidate"]["uri"].startswith("s3://models/é")
    assert document["candidate"]["uri"].endswith("...")
    assert document["label"].startswith("λ")
    assert document["label"].endswith("...")
    assert document["rows"] == 10**12

    short = Evaluation("regression", 3, "y", ModelResult("s3://m/a", "candidate", metrics), None)
    assert json.loads(short.termination_message()) == short.document()  # nothing cut


def test_models_and_holdout_in_s3(
    models: dict[str, Packaged], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    holdout = write_table(churn_holdout(), tmp_path / "holdout.parquet")
    log = tmp_path / "termination-log"
    with in_process_s3(monkeypatch, tmp_path, "models") as s3:
        for name in ("churn", "shuffled"):
            for path in models[name].repo.rglob("*"):
                if path.is_file():
                    key = f"{name}/{path.relative_to(models[name].repo).as_posix()}"
                    s3.upload_file(str(path), "models", key)
        s3.upload_file(str(holdout), "models", "data/holdout.parquet")
        in_s3 = churn_pair(
            log, "s3://models/shuffled", "s3://models/churn", "s3://models/data/holdout.parquet"
        )
    document = result_document(in_s3, log)
    local = churn_pair(
        tmp_path / "local-log", models["shuffled"].repo, models["churn"].repo, holdout
    )
    assert document["candidate"]["uri"] == "s3://models/shuffled"
    assert document["champion"]["uri"] == "s3://models/churn"
    local_document = result_document(local, tmp_path / "local-log")
    assert document["candidate"]["metrics"] == local_document["candidate"]["metrics"]
    assert document["champion"]["metrics"] == local_document["champion"]["metrics"]


def test_labels_the_model_never_saw_count_as_errors_with_a_note(
    models: dict[str, Packaged], tmp_path: Path
) -> None:
    holdout = iris_holdout()
    holdout.loc[0, "species"] = 7  # a class the model was not trained on
    data = write_table(holdout, tmp_path / "holdout.csv")
    log = tmp_path / "termination-log"
    result = evaluate(
        log, "--candidate", str(models["iris"].repo), "--data", str(data), "--label", "species"
    )
    metrics = result_document(result, log)["candidate"]["metrics"]
    predicted = models["iris"].model.predict(features(holdout, "species"))
    truth = holdout["species"].to_numpy()
    assert metrics["accuracy"] == pytest.approx(accuracy_score(truth, predicted), **FLOAT32)
    assert metrics["log_loss"] is None  # undefined beyond the model's classes
    assert "1 row(s) hold labels the model does not know (7)" in result.stderr
    assert "log_loss is null" in result.stderr


def test_decision_scores_rank_for_roc_auc_but_give_no_log_loss() -> None:
    # A LinearSVC-like model: one signed score per class, not probabilities.
    truth = np.array(["no", "yes", "yes", "no", "yes"], dtype=object)
    decision = np.array([-1.5, 0.3, 2.0, 0.1, -0.2])
    scores = np.column_stack([-decision, decision])
    measured = classification_metrics(
        ["roc_auc", "log_loss"], truth, np.where(decision > 0, "yes", "no"), scores, ["no", "yes"]
    )
    assert measured.values["roc_auc"] == pytest.approx(roc_auc_score(truth == "yes", decision))
    assert measured.values["log_loss"] is None
    assert measured.notes == [
        "log_loss is null: the model gives decision scores, not probabilities"
    ]


def test_metric_names_keep_their_order_once_each() -> None:
    assert parse_metric_names(" roc_auc,accuracy,,roc_auc ") == ("roc_auc", "accuracy")
    assert parse_metric_names(None) is None


def test_probabilities_rounded_a_hair_outside_0_and_1_still_give_a_log_loss() -> None:
    # A random forest's float32 averages, as its ONNX graph gives them: -1.2e-7 and 1.0000001.
    truth = np.array(["churn", "stay", "stay"], dtype=object)
    scores = np.array([[1.0, 0.0], [-1.1920929e-07, 1.0000001], [0.25, 0.75]], dtype=np.float32)
    measured = classification_metrics(
        ["log_loss"], truth, np.array(["churn", "stay", "stay"]), scores, ["churn", "stay"]
    )
    expected = log_loss(truth, np.clip(scores.astype(np.float64), 0, 1), labels=["churn", "stay"])
    assert measured.values["log_loss"] == pytest.approx(expected)
    assert measured.notes == []


def adult_forest(target: str) -> zoo.Fitted:
    """A forest whose target (age > 45) is bool, or float 0.0/1.0."""
    frame = zoo.customers(zoo.TRAIN_ROWS, 0)[["age", "income", "visits"]]
    held_out = zoo.customers(zoo.HELD_OUT_ROWS, 1)[["age", "income", "visits"]]
    labels = frame["age"] > 45
    forest = RandomForestClassifier(20, random_state=0).fit(
        frame, labels if target == "bool" else labels.astype(float)
    )
    return zoo.Fitted(forest, frame, held_out)


@pytest.mark.parametrize("target", ["bool", "float"])
@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_a_classifier_of_a_bool_or_float_target_is_evaluated_on_its_labels(
    target: str, suffix: str, tmp_path: Path
) -> None:
    fitted = adult_forest(target)
    packaged = package(fitted.model, fitted.sample, "adult", tmp_path)
    holdout = fitted.held_out.copy()
    predicted = fitted.model.predict(holdout)
    first, second = fitted.model.classes_
    # Wrong labels where the forest is unsure only: a sure miss puts log loss at the clip.
    unsure = np.ptp(fitted.model.predict_proba(holdout), axis=1) < 0.9
    assert 3 < unsure.sum() < len(holdout)
    holdout["adult"] = np.where(unsure, np.where(predicted == first, second, first), predicted)
    # Parquet keeps the type; CSV and JSON lines write true/false, True/False or 1.0 as text.
    data = write_table(holdout, tmp_path / f"holdout{suffix}")

    _, document = evaluated(packaged, data, "adult", tmp_path / "termination-log")

    truth = holdout["adult"].to_numpy()
    rows = features(holdout, "adult")
    expected = {
        "accuracy": accuracy_score(truth, predicted),
        "f1": f1_score(truth, predicted, pos_label=second),
        "roc_auc": roc_auc_score(truth == second, fitted.model.predict_proba(rows)[:, 1]),
        "log_loss": log_loss(truth, fitted.model.predict_proba(rows)),
    }
    assert_metrics_are(document, expected)


@pytest.mark.parametrize(
    "case", ["linear-regression-two-targets", "multi-output-classifier", "classifier-chain"]
)
def test_a_model_of_several_outputs_is_one_error_line(case: str, tmp_path: Path) -> None:
    # One --label column cannot measure two answers per row (the regressor's metrics were
    # null with "inconsistent numbers of samples: [50, 100]", the classifier's "package it
    # again").
    from support.everyday_models import CASES

    build = {c.name: c.build for c in [*zoo.ZOO, *CASES]}[case]
    fitted = build()
    packaged = package(fitted.model, fitted.sample, "multi", tmp_path)
    holdout = fitted.held_out.assign(truth=np.asarray(fitted.model.predict(fitted.held_out))[:, 0])
    data = write_table(holdout, tmp_path / "holdout.parquet")

    result = evaluate(
        tmp_path / "log", "--candidate", str(packaged.repo), "--data", str(data), "--label", "truth"
    )

    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines() == [
        "Error: candidate multi v1 gives 2 answers per row (a model of several outputs), and"
        " --label is one column of true values: evaluate a model of one output (e.g. one per"
        " target, each packaged on its own)"
    ]
