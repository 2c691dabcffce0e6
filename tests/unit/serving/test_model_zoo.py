"""Everyday models (tests/support/model_zoo.py) packaged by `modelship package`: each ships
(in float32, or by the float64 retry where float32 parity fails) and the packaged ONNX model
answers like the original on held-out rows; models of a missing optional library are refused
in one line, and every refusal leaves nothing behind."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from modelship_serving.errors import PackagingError, ParityError, UnsupportedModelError
from modelship_serving.packaging import boosting
from modelship_serving.packaging import sources as package_sources
from modelship_serving.packaging.fallback import PickledScorer
from modelship_serving.packaging.package import package_model
from modelship_serving.packaging.parity import onnx_session, run_onnx
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from support import model_zoo as zoo

CASES = {case.name: case for case in zoo.ZOO}
# Where float32 preprocessing flips tree splits: the float64 retry must ship it.
SHIPPED_BY_FLOAT64_RETRY = {"random-forest-after-scaler-timestamps"}


def missing(library: str | None) -> bool:
    return library is not None and importlib.util.find_spec(library) is None


@pytest.mark.parametrize("case_name", list(CASES))
def test_everyday_model_ships_and_answers_like_the_original(case_name: str, tmp_path: Path) -> None:
    case = CASES[case_name]
    if missing(case.library):
        pytest.skip(f"{case.library} is not installed (the boosting extra)")
    fitted = case.build()
    fitted.write(tmp_path / "model.joblib", tmp_path / "sample.parquet")

    result = package_model(
        tmp_path / "model.joblib", tmp_path / "sample.parquet", "m", "1", tmp_path / "repo"
    )

    metadata = result.metadata
    assert metadata.parity is not None
    if case_name in zoo.SHIPPED_BY_FALLBACK:
        assert metadata.source_format == "pickle"
        assert metadata.backend == "python"
        assert metadata.fallback_reason
        scorer = PickledScorer(result.model_dir / metadata.model_file, metadata)
        expected = zoo.expected_answers(fitted.model, fitted.held_out)
        zoo.assert_answers_like_original(metadata, scorer.score(fitted.held_out), expected)
        return
    assert metadata.source_format == "sklearn"
    expected_precision = "float64" if case_name in SHIPPED_BY_FLOAT64_RETRY else "float32"
    assert metadata.parity.precision == expected_precision
    # Only a float64 package records it: earlier readers of modelship.json forbid new fields.
    written = (result.model_dir / "modelship.json").read_text()
    assert ('"precision"' in written) == (expected_precision == "float64")
    numeric = [c.datatype for c in metadata.input_schema.columns if c.kind == "numeric"]
    assert set(numeric) <= {"FP64" if expected_precision == "float64" else "FP32"}
    session = onnx_session((result.model_dir / "1/model.onnx").read_bytes())
    outputs = run_onnx(session, fitted.held_out, metadata.input_schema)
    zoo.assert_answers_like_original(
        metadata, outputs, zoo.expected_answers(fitted.model, fitted.held_out)
    )


def package_fitted(fitted: Any, tmp_path: Path, fallback: bool = True) -> Any:
    fitted.write(tmp_path / "model.joblib", tmp_path / "sample.parquet")
    return package_model(
        tmp_path / "model.joblib",
        tmp_path / "sample.parquet",
        "m",
        "1",
        tmp_path / "repo",
        fallback=fallback,
    )


def assert_refused_in_one_line(error: pytest.ExceptionInfo[Any], tmp_path: Path) -> None:
    assert "\n" not in str(error.value)
    assert not (tmp_path / "repo").exists()
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []


def test_float64_retry_serves_fp64_inputs_and_says_so(tmp_path: Path) -> None:
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    fitted = CASES["random-forest-after-scaler-timestamps"].build()
    result = package_fitted(fitted, tmp_path)
    config = text_format.Parse(
        (result.model_dir / "config.pbtxt").read_text(), model_config_pb2.ModelConfig()
    )
    assert [(i.name, i.data_type) for i in config.input] == [
        ("event_time", model_config_pb2.TYPE_FP64),
        ("amount", model_config_pb2.TYPE_FP64),
        ("channel", model_config_pb2.TYPE_STRING),
    ]
    written = (result.model_dir / "modelship.json").read_text()
    assert '"precision": "float64"' in written
    # Exactly scikit-learn's labels on rows it never saw, at the usual tolerance.
    session = onnx_session((result.model_dir / "1/model.onnx").read_bytes())
    outputs = run_onnx(session, fitted.held_out, result.metadata.input_schema)
    assert outputs["label"].tolist() == fitted.model.predict(fitted.held_out).tolist()


@pytest.mark.parametrize(
    ("case_name", "said"),
    [
        ("random-forest-after-scaler-timestamps", "precision: float64 retry"),
        ("logistic-regression-mixed", "precision: float32"),
    ],
)
def test_package_says_which_precision_shipped(case_name: str, said: str, tmp_path: Path) -> None:
    result = CASES[case_name].build().package_with_cli(tmp_path)
    assert result.exit_code == 0, result.output
    assert said in result.output


def test_text_graph_needs_no_locale_the_machine_may_lack(tmp_path: Path) -> None:
    import onnx

    result = package_fitted(CASES["tfidf-on-a-series"].build(), tmp_path)
    graph = onnx.load(str(result.model_dir / "1/model.onnx")).graph
    normalizers = [node for node in graph.node if node.op_type == "StringNormalizer"]
    assert normalizers
    for node in normalizers:
        locale = {a.name: a.s.decode() for a in node.attribute if a.name == "locale"}
        assert locale == {"locale": "C.UTF-8"}  # unset means en_US.UTF-8 to onnxruntime


@pytest.mark.skipif(missing("catboost"), reason="catboost is not installed (the boosting extra)")
def test_catboost_inside_a_pipeline_is_refused_in_one_line(tmp_path: Path) -> None:
    from catboost import CatBoostClassifier

    fitted = CASES["catboost-classifier"].build()
    model = make_pipeline(
        StandardScaler(), CatBoostClassifier(iterations=5, verbose=0, allow_writing_files=False)
    ).fit(fitted.sample, fitted.model.predict(fitted.sample))
    with pytest.raises(UnsupportedModelError, match="CatBoost inside a scikit-learn pipeline"):
        package_fitted(zoo.Fitted(model, fitted.sample, fitted.held_out), tmp_path, False)


@pytest.mark.skipif(missing("catboost"), reason="catboost is not installed (the boosting extra)")
def test_catboost_with_text_features_is_refused_in_one_line(tmp_path: Path) -> None:
    from catboost import CatBoostClassifier

    frame = zoo.customers(120, 20)[["age", "city"]]
    model = CatBoostClassifier(iterations=5, verbose=0, allow_writing_files=False)
    model.fit(frame, frame["age"] > 40, cat_features=["city"])
    with pytest.raises(UnsupportedModelError, match="only for numeric features") as caught:
        package_fitted(zoo.Fitted(model, frame, frame), tmp_path, False)
    assert_refused_in_one_line(caught, tmp_path)


@pytest.mark.skipif(missing("xgboost"), reason="xgboost is not installed (the boosting extra)")
def test_a_boosting_model_without_its_library_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fitted = CASES["xgboost-native-bool-column"].build()
    fitted.write(tmp_path / "model.joblib", tmp_path / "sample.parquet")
    arguments = (tmp_path / "model.joblib", tmp_path / "sample.parquet", "m", "1")
    # Unpickling without xgboost installed.
    for module in [name for name in sys.modules if name.split(".")[0] == "xgboost"]:
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(UnsupportedModelError, match=r"modelship\[boosting\]") as caught:
        package_model(*arguments, tmp_path / "repo")
    assert_refused_in_one_line(caught, tmp_path)
    monkeypatch.undo()
    # xgboost present, onnxmltools' converter not.
    monkeypatch.setattr(boosting, "_registered", set())
    for module in [name for name in sys.modules if name.split(".")[0] == "onnxmltools"]:
        monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.setitem(sys.modules, "onnxmltools", None)
    with pytest.raises(UnsupportedModelError, match="XGBoost models need") as caught:
        package_model(*arguments, tmp_path / "repo", fallback=False)
    assert_refused_in_one_line(caught, tmp_path)


def test_an_onnx_model_onnxruntime_cannot_load_is_one_line(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Frobnicate", ["x"], ["y"], domain="com.example")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)]
    )
    onnx.save(model, str(tmp_path / "m.onnx"))
    pd.DataFrame({"x": [1.0, 2.0]}).to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(PackagingError, match=r"onnxruntime .* cannot load the model") as caught:
        package_model(tmp_path / "m.onnx", tmp_path / "s.csv", "m", "1", tmp_path / "repo")
    assert_refused_in_one_line(caught, tmp_path)


def test_parity_wants_exactly_one_prediction_per_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from onnx import TensorProto, helper

    def one_answer_per_column(model: Any, schema: Any, precision: Any = "float32") -> Any:
        # Stacks the columns: three "predictions" per row, in the right dtype and name.
        names = [column.tensor_name for column in schema.columns]
        node = helper.make_node("Concat", names, ["prediction"], axis=0)
        graph = helper.make_graph(
            [node],
            "g",
            [helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, 1]) for name in names],
            [helper.make_tensor_value_info("prediction", TensorProto.FLOAT, [None, 1])],
        )
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])

    monkeypatch.setattr(package_sources, "convert_sklearn_model", one_answer_per_column)
    with pytest.raises(ParityError, match=r"gives 900 predictions of shape .* for 300 rows"):
        package_fitted(CASES["ridge"].build(), tmp_path, False)
    assert not (tmp_path / "repo").exists()


def test_every_converter_error_is_in_the_one_line(tmp_path: Path) -> None:
    from sklearn.semi_supervised import LabelSpreading

    fitted = CASES["ridge"].build()
    model = LabelSpreading().fit(fitted.sample, fitted.sample["age"] > 40)
    with pytest.raises(UnsupportedModelError, match=r"every converter failed: \(1\)") as caught:
        package_fitted(zoo.Fitted(model, fitted.sample, fitted.held_out), tmp_path, False)
    assert_refused_in_one_line(caught, tmp_path)
