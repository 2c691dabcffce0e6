"""Everyday models (tests/support/model_zoo.py) packaged by `modelship package` and served
by the real Triton binary answer over HTTP and gRPC like the original on held-out rows: a
forest shipped by the float64 retry (FP64 inputs), TF-IDF text (no en_US locale needed),
gradient boosting with gaps, anomaly detection, clustering, a multi-output regressor, kNN,
XGBoost, LightGBM and CatBoost, models shipped by the pinned pickle fallback (python backend),
a multi-output classifier (labels only), LightGBM on a pandas 'category' column (fallback),
a torch.onnx.export-style network packaged with --classes, and PyTorch networks packaged from
a TorchScript file (a classifier, with --classes) and a pickled module (a regressor)."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pytest
from modelship_serving.triton.client import TritonProtocol, infer_frame
from modelship_serving.triton.server import TritonServer
from support import everyday_models
from support import model_zoo as zoo

pytestmark = pytest.mark.triton

LIBRARIES = {case.name: case.library for case in [*zoo.ZOO, *everyday_models.CASES]}


@pytest.mark.parametrize("name", [*zoo.SERVED_BY_TRITON, *everyday_models.SERVED_BY_TRITON])
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_served_zoo_model_answers_like_the_original(
    name: str, protocol: TritonProtocol, packaged: Any, triton: TritonServer
) -> None:
    library = LIBRARIES[name]
    if library is not None and importlib.util.find_spec(library) is None:
        pytest.skip(f"{library} is not installed (the boosting extra)")
    served = packaged[1][name]
    assert triton.endpoints is not None
    url = triton.endpoints.http if protocol == "http" else triton.endpoints.grpc
    outputs = infer_frame(url, served.metadata, served.held_out, protocol)
    expected = zoo.expected_answers(served.original, served.held_out)
    in_order = {spec.name: outputs[spec.name] for spec in served.metadata.outputs}
    zoo.assert_answers_like_original(served.metadata, in_order, expected)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_served_torch_export_answers_like_the_network(
    protocol: TritonProtocol, packaged: Any, triton: TritonServer
) -> None:
    from support.onnx_exports import CLASSES, reference_logits

    served = packaged[1]["torch-mlp"]
    assert triton.endpoints is not None
    url = triton.endpoints.http if protocol == "http" else triton.endpoints.grpc
    outputs = infer_frame(url, served.metadata, served.held_out, protocol)
    logits = reference_logits(served.original, served.held_out)
    np.testing.assert_allclose(outputs["logits"], logits, rtol=1e-5, atol=1e-5)
    expected = np.array(CLASSES)[logits.argmax(axis=1)]
    assert outputs["label"].reshape(-1).astype(str).tolist() == expected.tolist()


@pytest.mark.parametrize("name", ["torch-classifier", "torch-regressor"])
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_served_pytorch_network_answers_like_the_network(
    name: str, protocol: TritonProtocol, packaged: Any, triton: TritonServer
) -> None:
    from support import torch_networks  # skips, saying how to install it, without PyTorch

    served = packaged[1][name]
    network = served.original
    assert triton.endpoints is not None
    url = triton.endpoints.http if protocol == "http" else triton.endpoints.grpc
    outputs = infer_frame(url, served.metadata, served.held_out, protocol)
    expected = torch_networks.expected_outputs(network, served.held_out)
    if network.classes is None:
        np.testing.assert_allclose(outputs["prediction"], expected, rtol=1e-5, atol=1e-5)
        return
    np.testing.assert_allclose(outputs["scores"], expected, rtol=1e-5, atol=1e-5)
    labels = outputs["label"].reshape(-1).astype(str).tolist()
    assert labels == torch_networks.expected_labels(network, served.held_out)
