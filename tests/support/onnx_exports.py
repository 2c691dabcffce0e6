"""An ONNX file as torch.onnx.export writes it for a small nn.Sequential MLP classifier, built
with onnx.helper (PyTorch itself is not installed: its Linux wheel on PyPI pulls ~2-3 GB of
CUDA libraries), and the numpy reference of what that network computes."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pandas as pd
from onnx import TensorProto, helper, numpy_helper

FEATURES = ["age", "income", "visits"]
CLASSES = ["low", "mid", "high"]


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
