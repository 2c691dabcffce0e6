"""ONNX files as torch.onnx.export writes them (one [batch, k] input, logits out) are packaged
with one input per column, like every other package, and --classes gives them a label."""

from __future__ import annotations

import sys
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
from support.onnx_exports import FEATURES, mlp_weights, reference_logits, sample, torch_style_mlp


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
    assert f'name: "{input_name}"' not in config  # clients send columns, never the joined tensor


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


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".ts"])
def test_without_pytorch_a_pytorch_file_says_what_to_install_or_export(
    suffix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` fails, as when absent
    (tmp_path / f"net{suffix}").write_bytes(b"PK\x03\x04 a torch.save zip")
    sample(10, 1).to_parquet(tmp_path / "sample.parquet")
    said = r"needs PyTorch, which is not installed here: pip install torch .*torch\.onnx\.export\("
    with pytest.raises(UnsupportedModelError, match=said) as caught:
        package_model(
            tmp_path / f"net{suffix}", tmp_path / "sample.parquet", "n", "1", tmp_path / "r"
        )
    assert "\n" not in str(caught.value)
    assert_nothing_written(tmp_path)
