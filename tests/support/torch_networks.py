"""Small PyTorch networks as a notebook trains them, seeded: an MLP classifier (three named
classes) and an MLP regressor, each standardising its own inputs, on the three numeric
columns of support.onnx_exports.sample. Saved as TorchScript (torch.jit.save of the scripted
network) or as a pickled whole module (torch.save).

Importing this module skips the importing test when PyTorch is absent: hack/install-torch.sh
installs its CPU build (a wheel on disk, or the index that pip is given).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pytest

from support.onnx_exports import CLASSES, FEATURES, sample

TORCH_MISSING = (
    "PyTorch is not installed: hack/install-torch.sh installs its CPU build (or: pip install"
    " torch --index-url https://download.pytorch.org/whl/cpu)"
)
torch = pytest.importorskip("torch", reason=TORCH_MISSING)

SaveAs = Literal["torchscript", "pickled"]


class TabularMLP(torch.nn.Module):  # type: ignore[misc]
    """Standardises its k inputs with the training mean and spread, then Linear-ReLU-Linear
    (with dropout, which packaging must turn off)."""

    def __init__(self, mean: Any, scale: Any, outputs: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(len(mean), 16),
            torch.nn.ReLU(),
            torch.nn.Dropout(0.1),
            torch.nn.Linear(16, outputs),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers((features - self.mean) / self.scale)


@dataclass(frozen=True)
class TrainedNetwork:
    """A trained network, the sample it is packaged with, rows it never saw, its classes."""

    module: Any
    sample: pd.DataFrame
    held_out: pd.DataFrame
    classes: list[str] | None


def _segment(frame: pd.DataFrame) -> np.ndarray[Any, Any]:
    """0, 1, 2 (low, mid, high) by a weighted score of the three columns."""
    score = frame["age"] / 20 + frame["income"] / 25 + frame["visits"] / 3
    return np.digitize(score.to_numpy(), [5.0, 6.5])


def _spend(frame: pd.DataFrame) -> np.ndarray[Any, Any]:
    values = frame["age"] * 3 + frame["income"] * 2 + frame["visits"] * 5
    return values.to_numpy().reshape(-1, 1)


def _train(kind: Literal["classifier", "regressor"], seed: int) -> TrainedNetwork:
    torch.manual_seed(seed)
    train, held_out = sample(300, seed), sample(60, seed + 1)
    features = torch.tensor(train[FEATURES].to_numpy(np.float32))
    outputs = len(CLASSES) if kind == "classifier" else 1
    module = TabularMLP(features.mean(0), features.std(0), outputs)
    optimiser = torch.optim.Adam(module.parameters(), lr=0.03)
    if kind == "classifier":
        target = torch.tensor(_segment(train), dtype=torch.long)
        loss_of = torch.nn.CrossEntropyLoss()
    else:
        spend = _spend(train)
        target = torch.tensor((spend - spend.mean()) / spend.std(), dtype=torch.float32)
        loss_of = torch.nn.MSELoss()
    module.train()
    for _ in range(200):
        optimiser.zero_grad()
        loss_of(module(features), target).backward()
        optimiser.step()
    # Left in training mode, as a notebook often leaves it: packaging predicts in eval mode.
    classes = list(CLASSES) if kind == "classifier" else None
    return TrainedNetwork(module, train, held_out, classes)


def classifier(seed: int = 0) -> TrainedNetwork:
    return _train("classifier", seed)


def regressor(seed: int = 0) -> TrainedNetwork:
    return _train("regressor", seed)


def save(module: Any, path: Path, save_as: SaveAs) -> Path:
    """``module`` written as TorchScript or as a pickled whole module."""
    if save_as == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit.script's deprecation notice
            torch.jit.save(torch.jit.script(module), str(path))
    else:
        torch.save(module, str(path))
    return path


def expected_outputs(network: TrainedNetwork, rows: pd.DataFrame) -> np.ndarray[Any, Any]:
    """What the network gives for ``rows`` in eval mode: the answer a package must give."""
    was_training = network.module.training
    network.module.eval()
    try:
        with torch.no_grad():
            return np.asarray(network.module(torch.tensor(rows[FEATURES].to_numpy(np.float32))))
    finally:
        network.module.train(was_training)


def expected_labels(network: TrainedNetwork, rows: pd.DataFrame) -> list[str]:
    assert network.classes is not None
    return [network.classes[i] for i in expected_outputs(network, rows).argmax(axis=1)]
