"""ONNX files as torch.onnx.export writes them (one [batch, k] input, logits out) are packaged
with one input per column, like every other package, and --classes gives them a label."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pandas as pd
import pytest
from click.testing import CliRunner
from modelship.cli import main
from modelship_serving.errors import SampleError, UnsupportedModelError
from modelship_serving.packaging.package import package_model
from modelship_serving.packaging.parity import onnx_session, run_onnx
from onnx import TensorProto, helper, numpy_helper

FEATURES = ["age", "income", "visits"]


def torch_style_mlp(
    weights: list[np.ndarray[Any, Any]],
    input_name: str = "onnx::Gemm_0",
    batch: str | int = "batch_size",
) -> onnx.ModelProto:
    """The graph torch.onnx.export gives for nn.Sequential(Linear, ReLU, Linear): Gemm nodes
    with transposed weights, one [batch, k] float input, a "logits" output."""
    (w1, b1), (w2, b2) = weights[0:2], weights[2:4]
    initializers = [
        numpy_helper.from_array(w1.astype(np.float32), "0.weight"),
        numpy_helper.from_array(b1.astype(np.float32), "0.bias"),
        numpy_helper.from_array(w2.astype(np.float32), "2.weight"),
        numpy_helper.from_array(b2.astype(np.float32), "2.bias"),
    ]
    nodes = [
        helper.make_node("Gemm", [input_name, "0.weight", "0.bias"], ["/0/Gemm_output_0"],
                         name="/0/Gemm", alpha=1.0, beta=1.0, transB=1),
        helper.make_node("Relu", ["/0/Gemm_output_0"], ["/1/Relu_output_0"], name="/1/Relu"),
        helper.make_node("Gemm", ["/1/Relu_output_0", "2.weight", "2.bias"], ["logits"],
                         name="/2/Gemm", alpha=1.0, beta=1.0, transB=1),
    ]  # fmt: skip
    graph = helper.make_graph(
        nodes,
        "main_graph",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [batch, w1.shape[1]])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, w2.shape[0]])],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def mlp_weights(classes: int = 3, seed: int = 0) -> list[np.ndarray[Any, Any]]:
    rng = np.random.default_rng(seed)
    return [
        rng.normal(0, 0.05, (8, len(FEATURES))),
        rng.normal(0, 0.1, 8),
        rng.normal(0, 0.5, (classes, 8)),
        rng.normal(0, 0.1, classes),
    ]


def reference_logits(weights: list[np.ndarray[Any, Any]], frame: pd.DataFrame) -> Any:
    """What the network computes, in numpy: the original the package must answer like."""
    features = frame[FEATURES].to_numpy(np.float32)
    hidden = np.maximum(features @ weights[0].T.astype(np.float32) + weights[1], 0)
    return hidden @ weights[2].T.astype(np.float32) + weights[3]


def sample(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, rows).astype(float),
            "income": rng.normal(50, 12, rows),
            "visits": rng.poisson(4, rows).astype(float),
        }
    )


def write(model: onnx.ModelProto, frame: pd.DataFrame, tmp_path: Path) -> tuple[Path, Path]:
    onnx.save(model, str(tmp_path / "net.onnx"))
    frame.to_parquet(tmp_path / "sample.parquet")
    return tmp_path / "net.onnx", tmp_path / "sample.parquet"


@pytest.mark.parametrize("input_name", ["input", "onnx::Gemm_0"])
def test_a_torch_export_takes_one_input_per_column_and_names_its_classes(
    input_name: str, tmp_path: Path
) -> None:
    weights = mlp_weights()
    model_path, sample_path = write(torch_style_mlp(weights, input_name), sample(200, 1), tmp_path)

    result = package_model(
        model_path, sample_path, "net", "1", tmp_path / "repo", classes=["low", "mid", "high"]
    )

    metadata = result.metadata
    assert [(c.name, c.tensor_name, c.datatype) for c in metadata.input_schema.columns] == [
        (name, name, "FP32") for name in FEATURES
    ]
    assert metadata.task == "classification"
    assert metadata.classes == ["low", "mid", "high"]
    assert [(o.name, o.role, o.datatype) for o in metadata.outputs] == [
        ("label", "label", "BYTES"),
        ("logits", "scores", "FP32"),
    ]
    held_out = sample(50, 2)
    served = run_onnx(
        onnx_session((result.model_dir / "1/model.onnx").read_bytes()),
        held_out,
        metadata.input_schema,
    )
    logits = reference_logits(weights, held_out)
    np.testing.assert_allclose(served["logits"], logits, rtol=1e-5, atol=1e-5)
    expected = np.array(["low", "mid", "high"])[logits.argmax(axis=1)]
    assert served["label"].tolist() == expected.tolist()
    config = (result.model_dir / "config.pbtxt").read_text()
    assert 'name: "age"' in config
    assert f"name: \"{input_name}\"" not in config  # clients send columns, never the joined tensor


def test_integer_class_names_give_int64_labels(tmp_path: Path) -> None:
    weights = mlp_weights(classes=2)
    model_path, sample_path = write(torch_style_mlp(weights), sample(100, 3), tmp_path)
    result = package_model(model_path, sample_path, "net", "1", tmp_path / "r", classes=["0", "1"])
    assert result.metadata.outputs[0].datatype == "INT64"
    assert result.metadata.classes == [0, 1]


def test_without_classes_the_logits_are_served_as_they_are(tmp_path: Path) -> None:
    model_path, sample_path = write(torch_style_mlp(mlp_weights()), sample(100, 3), tmp_path)
    result = package_model(model_path, sample_path, "net", "1", tmp_path / "r")
    assert [o.name for o in result.metadata.outputs] == ["logits"]
    assert result.metadata.task == "regression"  # one float output: what it looks like


def assert_nothing_written(tmp_path: Path) -> None:
    assert not (tmp_path / "r").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    ("change", "error", "said"),
    [
        ({"classes": ["a", "b"]}, UnsupportedModelError, "names 2 classes but .* has 3 scores"),
        ({"batch": 1}, UnsupportedModelError, "fixed batch size of 1; export with a dynamic"),
        ({"columns": FEATURES[:2]}, SampleError, "takes 3 features but the sample has 2"),
    ],
)
def test_a_mismatched_export_is_refused_in_one_line(
    change: dict[str, Any], error: type[Exception], said: str, tmp_path: Path
) -> None:
    model = torch_style_mlp(mlp_weights(), batch=change.get("batch", "batch_size"))
    frame = sample(50, 4)[change.get("columns", FEATURES)]
    model_path, sample_path = write(model, frame, tmp_path)
    with pytest.raises(error, match=said) as caught:
        package_model(
            model_path, sample_path, "net", "1", tmp_path / "r", classes=change.get("classes")
        )
    assert "\n" not in str(caught.value)
    assert_nothing_written(tmp_path)


def test_cli_classes_flag(tmp_path: Path) -> None:
    model_path, sample_path = write(torch_style_mlp(mlp_weights()), sample(100, 5), tmp_path)
    result = CliRunner().invoke(
        main,
        ["package", str(model_path), "--sample", str(sample_path), "--name", "net",
         "--version", "1", "--output", str(tmp_path / "repo"), "--classes", "low,mid,high"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "outputs: label, logits" in result.output
    refused = CliRunner().invoke(
        main,
        ["package", str(model_path), "--sample", str(sample_path), "--name", "net",
         "--version", "1", "--output", str(tmp_path / "r2"), "--classes", "low,low,high"],
    )  # fmt: skip
    assert refused.exit_code == 1
    assert refused.output.strip().splitlines() == [
        "Error: --classes 'low,low,high' names a class twice"
    ]
