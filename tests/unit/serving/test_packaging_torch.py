"""PyTorch networks (a TorchScript file, a pickled whole module, a module given from Python)
are packaged through their ONNX export with one input per column, and answer like the
network itself on rows it never saw; what cannot be packaged is refused in one line, leaving
nothing behind."""

from __future__ import annotations

import copy
import sys
import types
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from modelship.cli import main
from modelship_serving.errors import PackagingError, SampleError, UnsupportedModelError
from modelship_serving.metadata import ModelMetadata
from modelship_serving.packaging.package import PackageResult, package_model, package_torch_module
from modelship_serving.packaging.parity import onnx_session, run_onnx
from support import torch_networks
from support.onnx_exports import FEATURES
from support.torch_networks import SaveAs, TrainedNetwork, torch

NETWORKS = {"classifier": torch_networks.classifier, "regressor": torch_networks.regressor}


@pytest.fixture(scope="module")
def networks() -> dict[str, TrainedNetwork]:
    return {kind: train() for kind, train in NETWORKS.items()}


def served(result: PackageResult, rows: pd.DataFrame) -> dict[str, np.ndarray[Any, Any]]:
    """What the written package answers for ``rows`` (the graph Triton serves)."""
    session = onnx_session((result.model_dir / "1/model.onnx").read_bytes())
    return run_onnx(session, rows, result.metadata.input_schema)


def assert_answers_like_the_network(result: PackageResult, network: TrainedNetwork) -> None:
    answers = served(result, network.held_out)
    expected = torch_networks.expected_outputs(network, network.held_out)
    if network.classes is None:
        np.testing.assert_allclose(answers["prediction"], expected, rtol=1e-5, atol=1e-5)
        return
    np.testing.assert_allclose(answers["scores"], expected, rtol=1e-5, atol=1e-5)
    assert answers["label"].tolist() == torch_networks.expected_labels(network, network.held_out)


def assert_metadata(metadata: ModelMetadata, network: TrainedNetwork, estimator: str) -> None:
    assert metadata.source_format == "torch"
    assert metadata.estimator == estimator
    assert [(c.name, c.tensor_name, c.datatype) for c in metadata.input_schema.columns] == [
        (name, name, "FP32") for name in FEATURES
    ]
    assert metadata.parity is not None
    assert metadata.parity.rows_checked == len(network.sample)
    assert "torch" in metadata.libraries
    if network.classes is None:
        assert metadata.task == "regression"
        assert [(o.name, o.role) for o in metadata.outputs] == [("prediction", "prediction")]
    else:
        assert metadata.task == "classification"
        assert metadata.classes == network.classes
        assert metadata.parity.labels_compared
        assert [(o.name, o.role) for o in metadata.outputs] == [
            ("label", "label"),
            ("scores", "scores"),
        ]


@pytest.mark.parametrize("save_as", ["torchscript", "pickled"])
@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_a_saved_network_answers_like_itself_on_held_out_rows(
    kind: str, save_as: SaveAs, networks: dict[str, TrainedNetwork], tmp_path: Path
) -> None:
    network = networks[kind]
    model_path = torch_networks.save(network.module, tmp_path / "net.pt", save_as)
    network.sample.to_parquet(tmp_path / "sample.parquet")

    result = package_model(
        model_path,
        tmp_path / "sample.parquet",
        "net",
        "1",
        tmp_path / "repo",
        classes=network.classes,
    )

    assert_answers_like_the_network(result, network)
    estimator = (
        "TorchScript TabularMLP"
        if save_as == "torchscript"
        else "support.torch_networks.TabularMLP"
    )
    assert_metadata(result.metadata, network, estimator)
    config = (result.model_dir / "config.pbtxt").read_text()
    assert 'name: "age"' in config
    assert "modelship_features" not in config  # clients send columns, never the joined tensor


def test_a_network_given_from_python_is_packaged_and_left_as_it_was(
    networks: dict[str, TrainedNetwork], tmp_path: Path
) -> None:
    network = networks["classifier"]
    assert network.module.training  # as the notebook left it; dropout must not reach parity

    result = package_torch_module(
        network.module, network.sample, "net", "1", tmp_path / "repo", classes=network.classes
    )

    assert_answers_like_the_network(result, network)
    assert_metadata(result.metadata, network, "support.torch_networks.TabularMLP")
    assert network.module.training


def test_a_double_precision_network_takes_fp64_columns(
    networks: dict[str, TrainedNetwork], tmp_path: Path
) -> None:
    network = networks["regressor"]
    double = copy.deepcopy(network.module).double().eval()
    result = package_torch_module(double, network.sample, "net", "1", tmp_path / "repo")
    assert {c.datatype for c in result.metadata.input_schema.columns} == {"FP64"}
    answers = served(result, network.held_out)
    with torch.no_grad():
        expected = double(torch.tensor(network.held_out[FEATURES].to_numpy(np.float64)))
    assert answers["prediction"].dtype == np.float64
    np.testing.assert_allclose(answers["prediction"], expected.numpy(), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("writer", ["torch.save", "joblib.dump"])
def test_a_pickled_network_under_any_name_is_recognised(
    writer: str, networks: dict[str, TrainedNetwork], tmp_path: Path
) -> None:
    network = networks["regressor"]
    model_path = tmp_path / "model.bin"
    if writer == "torch.save":
        torch_networks.save(network.module, model_path, "pickled")
    else:
        joblib.dump(network.module, model_path)
    network.sample.to_csv(tmp_path / "sample.csv", index=False)
    result = package_model(model_path, tmp_path / "sample.csv", "net", "1", tmp_path / "repo")
    assert_answers_like_the_network(result, network)


def test_cli_packages_a_torchscript_classifier(
    networks: dict[str, TrainedNetwork], tmp_path: Path
) -> None:
    network = networks["classifier"]
    model_path = torch_networks.save(network.module, tmp_path / "net.pt", "torchscript")
    network.sample.to_parquet(tmp_path / "sample.parquet")
    result = CliRunner().invoke(
        main,
        ["package", str(model_path), "--sample", str(tmp_path / "sample.parquet"),
         "--name", "net", "--version", "1", "--output", str(tmp_path / "repo"),
         "--classes", "low,mid,high"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "inputs:  age:numeric, income:numeric, visits:numeric" in result.output
    assert "outputs: label, scores" in result.output
    assert "parity:  300 rows agree" in result.output
    assert "PyTorch network TorchScript TabularMLP, exported to ONNX" in result.output


def assert_refused_in_one_line(
    error: type[Exception], said: str, model_path: Path, tmp_path: Path, **options: Any
) -> None:
    with pytest.raises(error, match=said) as caught:
        package_model(
            model_path, tmp_path / "sample.parquet", "net", "1", tmp_path / "r", **options
        )
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "r").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


class ReturnsTwo(torch.nn.Module):  # type: ignore[misc]
    def forward(self, features: Any) -> Any:
        return features.sum(1), features.mean(1)


class Inverts(torch.nn.Module):  # type: ignore[misc]
    """linalg.inv has no ONNX operator: the export fails."""

    def forward(self, features: Any) -> Any:
        square = features[:, :1, None] * torch.eye(2) + torch.eye(2)
        return torch.linalg.inv(square).flatten(1)


@pytest.mark.parametrize(
    ("case", "error", "said"),
    [
        ("state-dict", UnsupportedModelError, r"OrderedDict \(a state_dict: weights without"),
        ("not-torch", UnsupportedModelError, "neither a TorchScript file .* nor a module saved"),
        ("two-classes", SampleError, "names 2 classes but the model gave scores of shape"),
        ("two-columns", SampleError, "network fails on the sample's 2 columns .age, income.:"),
        ("tuple", UnsupportedModelError, "returns a tuple, not one tensor; make forward return"),
        ("no-onnx-operator", PackagingError, r"exporting the network to ONNX failed .*linalg"),
        (
            "gaps",
            SampleError,
            r"NaN or infinite outputs for 1 of 300 sample rows \(first: row"
            r" 7, missing income\); fill gaps",
        ),
    ],
)
def test_what_cannot_be_packaged_is_refused_in_one_line(
    case: str, error: type[Exception], said: str, networks: dict[str, TrainedNetwork],
    tmp_path: Path, capfd: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    network = networks["classifier"]
    frame = network.sample[FEATURES[:2]] if case == "two-columns" else network.sample
    if case == "gaps":
        frame = frame.copy()
        frame.loc[7, "income"] = np.nan
    frame.to_parquet(tmp_path / "sample.parquet")
    model_path = tmp_path / "net.pt"
    options: dict[str, Any] = {"classes": ["a", "b"]} if case == "two-classes" else {}
    if case == "state-dict":
        torch.save(network.module.state_dict(), str(model_path))
    elif case == "not-torch":
        model_path.write_bytes(b"PK\x03\x04 not an archive at all")
    else:
        module = {"tuple": ReturnsTwo(), "no-onnx-operator": Inverts()}.get(case, network.module)
        torch.save(module, str(model_path))
    capfd.readouterr()
    assert_refused_in_one_line(error, said, model_path, tmp_path, **options)
    # The error is the whole story: no dump of the exporter's graph before it.
    assert capfd.readouterr() == ("", "")


def test_a_network_whose_class_cannot_be_imported_says_how_to_save_it(
    networks: dict[str, TrainedNetwork], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = types.ModuleType("vanished_notebook")

    class Net(torch.nn.Linear):  # type: ignore[misc]
        pass

    Net.__module__, Net.__qualname__ = notebook.__name__, "Net"
    notebook.Net = Net  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, notebook.__name__, notebook)
    torch.save(Net(3, 1), str(tmp_path / "net.pt"))
    monkeypatch.delitem(sys.modules, notebook.__name__)
    networks["regressor"].sample.to_parquet(tmp_path / "sample.parquet")
    assert_refused_in_one_line(
        PackagingError,
        r"cannot unpickle .*vanished_notebook.*into a module you can import.*torch\.jit\.save",
        tmp_path / "net.pt",
        tmp_path,
    )


def test_a_network_is_packaged_only_from_python_with_a_module(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedModelError, match=r"builtins\.dict is not a torch\.nn\.Module"):
        package_torch_module({}, pd.DataFrame({"a": [1.0]}), "net", "1", tmp_path / "r")
    assert not (tmp_path / "r").exists()
