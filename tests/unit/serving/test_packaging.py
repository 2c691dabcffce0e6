"""`modelship package` turns real scikit-learn pipelines (numeric and mixed data, classifier and
regressor) into a Triton repository whose ONNX model answers like the original on held-out
rows, whose config.pbtxt parses with Triton's own protobuf, and whose metadata records the
schema, lineage, versions and profile; bad inputs get clear errors and leave nothing behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from google.protobuf import text_format
from modelship.cli import main
from modelship_serving.digest import file_sha256, repository_sha256
from modelship_serving.errors import (
    OutputExistsError,
    PackagingError,
    ParityError,
    SampleError,
    UnsupportedModelError,
)
from modelship_serving.metadata import Lineage, read_model_metadata
from modelship_serving.packaging import sources as package_sources
from modelship_serving.packaging.convert import convert_sklearn_model
from modelship_serving.packaging.package import PackageResult, package_model
from modelship_serving.packaging.parity import onnx_session, run_onnx
from modelship_serving.triton.config import ModelConfigOptions
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder
from tritonclient.grpc import model_config_pb2

MODELS = ["iris_classifier", "mixed_classifier", "mixed_regressor"]


def package_as_m1(trained: Any, output: Path, **options: Any) -> PackageResult:
    """Package a trained model (a conftest fixture) as model m, version 1, into `output`."""
    return package_model(trained.model_path, trained.sample_path, "m", "1", output, **options)


def parse_config(path: Path) -> Any:
    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


@pytest.fixture(params=MODELS)
def packaged(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Any, PackageResult]:
    """Each trained model and what packaging it as model m, version 1, under tmp_path/repo gave."""
    trained = request.getfixturevalue(request.param)
    return trained, package_as_m1(trained, tmp_path / "repo")


def test_packaged_model_answers_like_scikit_learn_on_held_out_rows(
    packaged: tuple[Any, PackageResult], tmp_path: Path
) -> None:
    trained, result = packaged
    metadata = result.metadata
    session = onnx_session((tmp_path / "repo/m/1/model.onnx").read_bytes())
    outputs = run_onnx(session, trained.held_out, metadata.input_schema)
    expected = trained.model.predict(trained.held_out)
    if metadata.task == "classification":
        assert list(outputs) == ["label", "probabilities"]
        assert outputs["label"].astype(str).tolist() == expected.astype(str).tolist()
        np.testing.assert_allclose(
            outputs["probabilities"], trained.model.predict_proba(trained.held_out), atol=1e-5
        )
    else:
        assert list(outputs) == ["prediction"]
        np.testing.assert_allclose(outputs["prediction"].reshape(-1), expected, rtol=1e-4)


def test_config_parses_with_tritons_model_config_protobuf(
    packaged: tuple[Any, PackageResult], tmp_path: Path
) -> None:
    _, result = packaged
    config = parse_config(tmp_path / "repo/m/config.pbtxt")
    assert config.name == "m"
    assert config.platform == "onnxruntime_onnx"
    assert config.max_batch_size == 64
    assert config.dynamic_batching.max_queue_delay_microseconds == 100
    assert [group.kind for group in config.instance_group] == [
        model_config_pb2.ModelInstanceGroup.KIND_CPU
    ]
    # One input per column, named after it; the label (or prediction) first.
    columns = result.metadata.input_schema.columns
    assert [i.name for i in config.input] == [c.tensor_name for c in columns]
    assert all(list(i.dims) == [1] for i in config.input)
    assert config.output[0].name in ("label", "prediction")
    assert [o.name for o in config.output] == [spec.name for spec in result.metadata.outputs]


def test_mixed_schema_maps_columns_to_types(mixed_classifier: Any, tmp_path: Path) -> None:
    result = package_as_m1(mixed_classifier, tmp_path / "r")
    schema = {
        c.name: (c.tensor_name, c.kind, c.datatype) for c in result.metadata.input_schema.columns
    }
    assert schema == {
        "age": ("age", "numeric", "FP32"),
        "income": ("income", "numeric", "FP32"),
        "city": ("city", "categorical", "BYTES"),
        "plan": ("plan", "categorical", "BYTES"),
    }
    config = parse_config(tmp_path / "r/m/config.pbtxt")
    assert [i.data_type for i in config.input] == [
        model_config_pb2.TYPE_FP32,
        model_config_pb2.TYPE_FP32,
        model_config_pb2.TYPE_STRING,
        model_config_pb2.TYPE_STRING,
    ]
    assert config.output[0].data_type == model_config_pb2.TYPE_STRING  # string class labels
    assert list(config.output[1].dims) == [2]


def test_column_names_that_are_not_tensor_names_are_mapped(
    iris_classifier: Any, tmp_path: Path
) -> None:
    result = package_as_m1(iris_classifier, tmp_path / "r")
    first = result.metadata.input_schema.columns[0]
    assert (first.name, first.tensor_name) == ("sepal length (cm)", "sepal_length__cm_")


def test_columns_named_like_an_output_or_a_modelship_node_get_other_tensor_names() -> None:
    from modelship_serving.packaging import outputs
    from modelship_serving.packaging.schema import RESERVED_TENSOR_NAMES, tensor_name_for

    assert {
        outputs.LABEL_OUTPUT,
        outputs.PROBABILITIES_OUTPUT,
        outputs.SCORES_OUTPUT,
        outputs.PREDICTION_OUTPUT,
    } == RESERVED_TENSOR_NAMES
    taken: set[str] = set()
    names = ["label", "probabilities_unclipped", "modelship_tie_max", "labels", "c_label"]
    assert [tensor_name_for(name, taken) for name in names] == [
        "c_label",
        "c_probabilities_unclipped",
        "c_modelship_tie_max",
        "labels",
        "c_label_2",
    ]


def test_metadata_records_hash_versions_lineage_schema_and_profile(
    mixed_classifier: Any, tmp_path: Path
) -> None:
    lineage = Lineage(data_version="2024-06", code_ref="abc123", parameters={"C": "1.0"})
    result = package_model(
        mixed_classifier.model_path,
        mixed_classifier.sample_path,
        "churn",
        "7",
        tmp_path / "r",
        lineage,
    )
    metadata = read_model_metadata(tmp_path / "r/churn")
    assert metadata == result.metadata
    assert metadata.model_sha256 == file_sha256(tmp_path / "r/churn/7/model.onnx")
    assert metadata.lineage == lineage
    assert {"scikit-learn", "skl2onnx", "onnx", "onnxruntime", "python"} <= set(metadata.libraries)
    assert metadata.classes == ["no", "yes"]
    assert metadata.parity is not None
    assert metadata.parity.rows_checked == 400
    profile = metadata.reference_profile
    assert profile.row_count == 400
    assert set(profile.numeric) == {"age", "income"}
    assert set(profile.categorical) == {"city", "plan"}
    assert sum(profile.numeric["age"].histogram_counts) == 400
    assert profile.numeric["income"].missing_fraction == pytest.approx(31 / 400)
    assert sum(profile.categorical["city"].frequencies.values()) == pytest.approx(1.0)
    # The printed digest is that of a repository holding only this model.
    assert result.repository_sha256 == repository_sha256(tmp_path / "r")


def test_python_backend_variant_carries_the_onnx_runner(
    iris_classifier: Any, tmp_path: Path
) -> None:
    package_as_m1(
        iris_classifier,
        tmp_path / "r",
        config_options=ModelConfigOptions(backend="python", max_batch_size=8, instance_count=2),
    )
    config = parse_config(tmp_path / "r/m/config.pbtxt")
    assert config.backend == "python"
    assert not config.platform
    assert config.instance_group[0].count == 2
    assert not config.output[0].HasField("reshape")
    assert (tmp_path / "r/m/1/model.py").is_file()
    assert (tmp_path / "r/m/1/model.onnx").is_file()


def test_onnx_file_is_packaged_with_its_own_inputs(mixed_classifier: Any, tmp_path: Path) -> None:
    first = package_model(
        mixed_classifier.model_path, mixed_classifier.sample_path, "a", "1", tmp_path / "r"
    )
    result = package_model(
        tmp_path / "r/a/1/model.onnx", mixed_classifier.sample_path, "b", "1", tmp_path / "r"
    )
    assert result.metadata.source_format == "onnx"
    assert result.metadata.input_schema == first.metadata.input_schema
    assert result.metadata.task == "classification"


def test_imputed_text_columns_with_gaps_are_packaged(tmp_path: Path) -> None:
    # The usual recipe for text columns, SimpleImputer(most_frequent) before OneHotEncoder,
    # trained and sampled with gaps: skl2onnx refuses NaN as a missing marker for strings.
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {"x": rng.normal(size=360), "city": rng.choice(["paris", "lyon", "nice"], 360)}
    )
    frame.loc[frame.index % 7 == 0, "city"] = np.nan
    train, held_out = frame.iloc[:300], frame.iloc[300:]
    categories = make_pipeline(
        SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
    )
    model = Pipeline(
        [
            ("pre", ColumnTransformer([("city", categories, ["city"])], remainder="passthrough")),
            ("clf", LogisticRegression()),
        ]
    ).fit(train, train["city"].isin(["nice"]) | (train["x"] > 1))
    joblib.dump(model, tmp_path / "m.pkl")
    train.to_csv(tmp_path / "s.csv", index=False)

    result = package_model(tmp_path / "m.pkl", tmp_path / "s.csv", "m", "1", tmp_path / "r")

    session = onnx_session((result.model_dir / "1/model.onnx").read_bytes())
    outputs = run_onnx(session, held_out, result.metadata.input_schema)
    assert outputs["label"].reshape(-1).tolist() == model.predict(held_out).tolist()
    assert held_out["city"].isna().any()
    np.testing.assert_allclose(outputs["probabilities"], model.predict_proba(held_out), atol=1e-5)
    imputer = model.named_steps["pre"].named_transformers_["city"][0]
    assert np.isnan(imputer.missing_values)  # the user's model is not changed


def test_parity_check_rejects_a_broken_conversion(
    mixed_classifier: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A "conversion" that silently uses other coefficients: what a converter bug looks like.
    def broken_conversion(model: Any, schema: Any, precision: Any = "float32") -> Any:
        other = joblib.load(mixed_classifier.model_path)
        other.set_params(clf=LogisticRegression(C=1e-3))
        train = pd.read_parquet(mixed_classifier.sample_path)
        other.fit(train, model.predict(train))
        return convert_sklearn_model(other, schema, precision)

    monkeypatch.setattr(package_sources, "convert_sklearn_model", broken_conversion)
    with pytest.raises(ParityError) as caught:
        package_as_m1(mixed_classifier, tmp_path / "r", fallback=False)
    message = str(caught.value)
    assert "does not match" in message
    assert "row " in message  # says where they differ
    assert "the float64 retry" in message  # tried, and differs too: never a wider tolerance
    assert not (tmp_path / "r").exists()
    assert list(tmp_path.iterdir()) == []


def test_parity_tolerance_is_the_stated_one(iris_classifier: Any, tmp_path: Path) -> None:
    # float32 ONNX vs float64 scikit-learn differ by ~1e-7: an absurdly tight bound refuses.
    with pytest.raises(ParityError, match="atol=1e-12"):
        package_as_m1(
            iris_classifier,
            tmp_path / "r",
            absolute_tolerance=1e-12,
            relative_tolerance=0.0,
            fallback=False,
        )


def test_unsupported_estimator_is_refused(tmp_path: Path) -> None:
    from sklearn.semi_supervised import LabelSpreading

    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [1.0, 0.0, 1.0, 0.0]})
    joblib.dump(LabelSpreading().fit(frame, [0, 1, 0, 1]), tmp_path / "m.pkl")
    frame.to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(UnsupportedModelError, match="LabelSpreading"):
        package_model(
            tmp_path / "m.pkl", tmp_path / "s.csv", "m", "1", tmp_path / "r", fallback=False
        )
    assert not (tmp_path / "r").exists()


def test_a_pickle_that_is_no_estimator_is_refused(tmp_path: Path, iris_classifier: Any) -> None:
    joblib.dump({"weights": [1, 2]}, tmp_path / "m.pkl")
    with pytest.raises(UnsupportedModelError, match="not a scikit-learn estimator"):
        package_model(tmp_path / "m.pkl", iris_classifier.sample_path, "m", "1", tmp_path / "r")


def test_sample_missing_a_column_is_refused(mixed_classifier: Any, tmp_path: Path) -> None:
    pd.read_parquet(mixed_classifier.sample_path).drop(columns=["city"]).to_csv(tmp_path / "s.csv")
    with pytest.raises(SampleError, match=r"lacks column.*city"):
        package_model(mixed_classifier.model_path, tmp_path / "s.csv", "m", "1", tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_sample_with_wrong_types_is_refused(mixed_classifier: Any, tmp_path: Path) -> None:
    frame = pd.read_parquet(mixed_classifier.sample_path)
    frame["age"] = frame["age"].astype(str)
    frame.loc[3, "age"] = "forty"
    frame.to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(SampleError, match=r"forty.*read as text: age, city, plan") as caught:
        package_model(mixed_classifier.model_path, tmp_path / "s.csv", "m", "1", tmp_path / "r")
    assert "\n" not in str(caught.value)  # the CLI shows it as one Error: line
    assert not (tmp_path / "r").exists()


def test_text_codes_read_as_numbers_from_a_csv_point_to_parquet(tmp_path: Path) -> None:
    frame = pd.DataFrame({"zip": ["75001", "69002", "13003"] * 20, "x": np.arange(60.0)})
    encoder = ColumnTransformer([("zip", OneHotEncoder(), ["zip"])], remainder="passthrough")
    model = Pipeline([("pre", encoder), ("clf", LogisticRegression())])
    joblib.dump(model.fit(frame, frame["zip"] == "75001"), tmp_path / "m.pkl")
    frame.to_csv(tmp_path / "s.csv", index=False)  # read back, zip holds numbers
    with pytest.raises(SampleError, match="a Parquet sample keeps the training types"):
        package_model(tmp_path / "m.pkl", tmp_path / "s.csv", "m", "1", tmp_path / "r")
    frame.to_parquet(tmp_path / "s.parquet")
    package_model(tmp_path / "m.pkl", tmp_path / "s.parquet", "m", "1", tmp_path / "r")


def test_unreadable_files_are_refused(tmp_path: Path, iris_classifier: Any) -> None:
    (tmp_path / "m.pkl").write_bytes(b"not a pickle at all")
    with pytest.raises(PackagingError, match="cannot read"):
        package_model(tmp_path / "m.pkl", iris_classifier.sample_path, "m", "1", tmp_path / "r")
    (tmp_path / "s.parquet").write_bytes(b"garbage")
    with pytest.raises(SampleError, match="cannot read sample"):
        package_model(iris_classifier.model_path, tmp_path / "s.parquet", "m", "1", tmp_path / "r")
    with pytest.raises(PackagingError, match="does not exist"):
        package_model(
            tmp_path / "missing.pkl", iris_classifier.sample_path, "m", "1", tmp_path / "r"
        )
    assert not (tmp_path / "r").exists()


def test_existing_output_is_never_overwritten(iris_classifier: Any, tmp_path: Path) -> None:
    package_as_m1(iris_classifier, tmp_path / "r")
    before = repository_sha256(tmp_path / "r")
    with pytest.raises(OutputExistsError, match="already exists"):
        package_model(
            iris_classifier.model_path, iris_classifier.sample_path, "m", "2", tmp_path / "r"
        )
    assert repository_sha256(tmp_path / "r") == before
    assert [p.name for p in (tmp_path / "r").iterdir()] == ["m"]  # no staging leftovers


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("../x", "1"),
        ("My_Model", "1"),  # Triton would take it, a ModelDeployment's spec.model.name not
        ("churn.v2", "1"),
        ("-m", "1"),
        ("m" * 64, "1"),
        ("m", "v1"),
        ("m", "1.0"),
        ("m", "0"),
    ],
)
def test_bad_names_and_versions_are_refused(
    name: str, version: str, iris_classifier: Any, tmp_path: Path
) -> None:
    with pytest.raises(PackagingError, match=r"DNS-1123 label|positive integer"):
        package_model(
            iris_classifier.model_path, iris_classifier.sample_path, name, version, tmp_path / "r"
        )
    assert list(tmp_path.iterdir()) == []


def test_cli_prints_the_sha256_and_warns_about_pickles(
    mixed_regressor: Any, tmp_path: Path
) -> None:
    runner = CliRunner()
    help_text = runner.invoke(main, ["package", "--help"]).output
    assert "runs code" in help_text
    result = runner.invoke(
        main,
        [
            "package",
            str(mixed_regressor.model_path),
            "--sample",
            str(mixed_regressor.sample_path),
            "--name",
            "reg",
            "--version",
            "2",
            "--output",
            str(tmp_path / "r"),
            "--code-ref",
            "deadbeef",
            "--param",
            "n_estimators=25",
            "--max-batch-size",
            "32",
            "--no-dynamic-batching",
            "--instances",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"sha256: {repository_sha256(tmp_path / 'r')}" in result.output
    config = parse_config(tmp_path / "r/reg/config.pbtxt")
    assert config.max_batch_size == 32
    assert not config.HasField("dynamic_batching")
    assert config.instance_group[0].count == 2
    assert read_model_metadata(tmp_path / "r/reg").lineage.parameters == {"n_estimators": "25"}


def test_cli_bad_input_is_one_line_without_traceback(iris_classifier: Any, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "package",
            str(tmp_path / "nope.pkl"),
            "--sample",
            str(iris_classifier.sample_path),
            "--name",
            "m",
            "--version",
            "1",
            "--output",
            str(tmp_path / "r"),
        ],
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: model file")
    assert "Traceback" not in result.output


def test_cli_archive_fetches_to_the_printed_sha256(iris_classifier: Any, tmp_path: Path) -> None:
    from modelship_serving.fetch.fetch import fetch_repository

    result = CliRunner().invoke(
        main,
        [
            "package",
            str(iris_classifier.model_path),
            "--sample",
            str(iris_classifier.sample_path),
            "--name",
            "iris",
            "--version",
            "1",
            "--output",
            str(tmp_path / "r"),
            "--archive",
            str(tmp_path / "iris.tar.gz"),
        ],
    )
    assert result.exit_code == 0, result.output
    printed = result.output.split("sha256: ")[1].split()[0]
    fetched = fetch_repository((tmp_path / "iris.tar.gz").as_uri(), tmp_path / "dest", printed)
    assert fetched.sha256 == printed


def test_bare_estimator_on_numeric_columns_gets_one_input_per_column(tmp_path: Path) -> None:
    from sklearn.datasets import load_wine
    from sklearn.ensemble import RandomForestClassifier

    features, target = load_wine(return_X_y=True, as_frame=True)
    features.columns = [name.replace("/", "_") for name in features.columns]
    model = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0)
    model.fit(features.iloc[::2], target.iloc[::2])
    joblib.dump(model, tmp_path / "rf.pkl")
    features.iloc[::2].to_csv(tmp_path / "sample.csv", index=False)
    result = package_model(tmp_path / "rf.pkl", tmp_path / "sample.csv", "rf", "1", tmp_path / "r")
    config = parse_config(tmp_path / "r/rf/config.pbtxt")
    assert [i.name for i in config.input] == list(features.columns)
    session = onnx_session((tmp_path / "r/rf/1/model.onnx").read_bytes())
    held_out = features.iloc[1::2]
    outputs = run_onnx(session, held_out, result.metadata.input_schema)
    assert outputs["label"].tolist() == model.predict(held_out).tolist()


@pytest.mark.parametrize(
    ("archive", "message"),
    [
        ("taken.tar.gz", "already exists"),
        ("no-such-dir/m.tar.gz", "does not exist; create it first"),
    ],
)
def test_cli_unwritable_archive_is_refused_before_packaging(
    archive: str, message: str, iris_classifier: Any, tmp_path: Path
) -> None:
    (tmp_path / "taken.tar.gz").write_bytes(b"someone else's")
    arguments = [str(iris_classifier.model_path), "--sample", str(iris_classifier.sample_path)]
    result = CliRunner().invoke(
        main,
        [
            "package",
            *arguments,
            *("--name", "m", "--version", "1", "--output", str(tmp_path / "r")),
            *("--archive", str(tmp_path / archive)),
        ],
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: --archive")
    assert message in result.output
    assert len(result.output.splitlines()) == 1
    assert not (tmp_path / "r").exists()
    assert (tmp_path / "taken.tar.gz").read_bytes() == b"someone else's"


def test_ai_onnx_ml_operators_convert_with_a_per_domain_opset(tmp_path: Path) -> None:
    # IsolationForest needs ai.onnx.ml 3; a bare opset number made skl2onnx refuse it.
    from sklearn.ensemble import IsolationForest

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    model = IsolationForest(n_estimators=20, random_state=0).fit(frame)
    joblib.dump(model, tmp_path / "m.pkl")
    frame.to_csv(tmp_path / "s.csv", index=False)
    result = package_model(tmp_path / "m.pkl", tmp_path / "s.csv", "m", "1", tmp_path / "r")
    session = onnx_session((result.model_dir / "1/model.onnx").read_bytes())
    held_out = pd.DataFrame({"a": rng.normal(size=50) * 3, "b": rng.normal(size=50)})
    outputs = run_onnx(session, held_out, result.metadata.input_schema)
    assert outputs["label"].reshape(-1).tolist() == model.predict(held_out).tolist()
