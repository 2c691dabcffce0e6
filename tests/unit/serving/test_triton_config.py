"""config.pbtxt generation follows the options (batching, queue delay, instances, GPU, backend),
always parses with Triton's model-config protobuf, and `serve`'s rewrite of an onnxruntime config
into a python-backend one keeps inputs and outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx
import pytest
from google.protobuf import text_format
from modelship_serving.errors import ServeError
from modelship_serving.triton.config import ModelConfigOptions, render_model_config
from modelship_serving.triton.repository import as_python_backend_config, servable_repository
from onnx import TensorProto, helper
from tritonclient.grpc import model_config_pb2


def tiny_classifier_graph() -> onnx.ModelProto:
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1]),
        helper.make_tensor_value_info("colour", TensorProto.STRING, [None, 1]),
    ]
    outputs = [
        helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 3]),
    ]
    graph = helper.make_graph([], "g", inputs, outputs)
    return helper.make_model(graph)


def parse(text: str) -> Any:
    return text_format.Parse(text, model_config_pb2.ModelConfig())


def test_default_options_batch_dynamically_on_onnxruntime() -> None:
    config = parse(render_model_config("m", tiny_classifier_graph(), ModelConfigOptions()))
    assert config.platform == "onnxruntime_onnx"
    assert config.max_batch_size == 64
    assert config.dynamic_batching.max_queue_delay_microseconds == 100
    assert [(i.name, i.data_type, list(i.dims)) for i in config.input] == [
        ("x", model_config_pb2.TYPE_FP32, [1]),
        ("colour", model_config_pb2.TYPE_STRING, [1]),
    ]
    label, scores = config.output
    assert (label.name, list(label.dims), list(label.reshape.shape)) == ("label", [1], [])
    assert label.HasField("reshape")
    assert (scores.name, list(scores.dims)) == ("probabilities", [3])


def test_options_are_written() -> None:
    options = ModelConfigOptions(
        max_batch_size=128,
        max_queue_delay_microseconds=2000,
        preferred_batch_sizes=[32, 64],
        instance_count=3,
        instance_kind="gpu",
    )
    config = parse(render_model_config("m", tiny_classifier_graph(), options))
    assert config.max_batch_size == 128
    assert list(config.dynamic_batching.preferred_batch_size) == [32, 64]
    assert config.dynamic_batching.max_queue_delay_microseconds == 2000
    assert config.instance_group[0].count == 3
    assert config.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_GPU


def test_no_batching_keeps_the_batch_dimension_in_dims() -> None:
    options = ModelConfigOptions(max_batch_size=0)
    config = parse(render_model_config("m", tiny_classifier_graph(), options))
    assert config.max_batch_size == 0
    assert not config.HasField("dynamic_batching")
    assert list(config.input[0].dims) == [-1, 1]
    assert list(config.output[0].dims) == [-1]


def test_python_backend_rewrite_keeps_tensors_and_drops_reshape() -> None:
    original = parse(render_model_config("m", tiny_classifier_graph(), ModelConfigOptions()))
    rewritten = parse(
        as_python_backend_config(
            render_model_config("m", tiny_classifier_graph(), ModelConfigOptions())
        )
    )
    assert rewritten.backend == "python"
    assert not rewritten.platform
    assert not rewritten.default_model_filename
    assert [i.name for i in rewritten.input] == [i.name for i in original.input]
    assert not any(o.HasField("reshape") for o in rewritten.output)
    assert rewritten.dynamic_batching == original.dynamic_batching


def test_servable_repository_wraps_only_when_onnxruntime_is_missing(tmp_path: Path) -> None:
    model_dir = tmp_path / "repo" / "m"
    (model_dir / "1").mkdir(parents=True)
    onnx.save(tiny_classifier_graph(), model_dir / "1" / "model.onnx")
    (model_dir / "config.pbtxt").write_text(
        render_model_config("m", tiny_classifier_graph(), ModelConfigOptions())
    )
    repository = tmp_path / "repo"
    assert (
        servable_repository(repository, frozenset({"onnxruntime", "python"}), tmp_path / "a")
        == repository
    )
    wrapped = servable_repository(repository, frozenset({"python"}), tmp_path / "b")
    assert wrapped != repository
    assert (wrapped / "m" / "1" / "model.py").is_file()
    assert (wrapped / "m" / "1" / "model.onnx").resolve() == (
        model_dir / "1" / "model.onnx"
    ).resolve()
    assert parse((wrapped / "m" / "config.pbtxt").read_text()).backend == "python"
    # The packaged repository itself is untouched.
    assert parse((model_dir / "config.pbtxt").read_text()).platform == "onnxruntime_onnx"
    with pytest.raises(ServeError, match="neither"):
        servable_repository(repository, frozenset(), tmp_path / "c")


def test_empty_repository_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ServeError, match="holds no model"):
        servable_repository(tmp_path, frozenset({"python"}), tmp_path / "s")
