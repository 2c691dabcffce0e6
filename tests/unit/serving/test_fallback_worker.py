"""The fallback's model.py, as Triton's python backend stub runs it, serves the pickle from a
worker process of another interpreter when the stub's own lacks the recorded versions (the
stock serving image): it answers like the original, the worker refuses other versions in one
line, and a worker that dies is restarted once, then reported."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from modelship_serving.packaging.package import PackageResult, package_model
from modelship_serving.packaging.schema import frame_to_feeds
from support import model_zoo as zoo


class Tensor:
    def __init__(self, name: str, value: Any) -> None:
        self.name = name
        self.value = value

    def as_numpy(self) -> Any:
        return self.value


class Response:
    def __init__(self, output_tensors: list[Tensor] | None = None, error: Any = None) -> None:
        self.outputs = {tensor.name: tensor.value for tensor in output_tensors or []}
        self.error = error


class TritonError:
    def __init__(self, message: str) -> None:
        self.message = message


@pytest.fixture(autouse=True)
def stub_utils(monkeypatch: pytest.MonkeyPatch) -> None:
    """What Triton's stub provides to model.py: triton_python_backend_utils."""
    utils = types.ModuleType("triton_python_backend_utils")
    utils.Tensor = Tensor  # type: ignore[attr-defined]
    utils.InferenceResponse = Response  # type: ignore[attr-defined]
    utils.TritonError = TritonError  # type: ignore[attr-defined]
    utils.get_input_tensor_by_name = lambda request, name: request[name]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", utils)


@pytest.fixture
def force_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSHIP_FALLBACK_WORKER", "always")
    monkeypatch.setenv("MODELSHIP_FALLBACK_PYTHON", sys.executable)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> tuple[zoo.Fitted, PackageResult]:
    work = tmp_path_factory.mktemp("classifier")
    fitted = {case.name: case for case in zoo.ZOO}["label-spreading"].build()
    fitted.write(work / "model.joblib", work / "sample.parquet")
    result = package_model(
        work / "model.joblib", work / "sample.parquet", "m", "1", work / "repo"
    )  # fmt: skip
    assert result.metadata.backend == "python"
    return fitted, result


def version_copy(result: PackageResult, tmp_path: Path) -> Path:
    return Path(shutil.copytree(result.model_dir / "1", tmp_path / "1"))


def stub_model(version_dir: Path) -> Any:
    """model.py imported from its folder and initialized, as the stub does."""
    spec = importlib.util.spec_from_file_location(
        f"stub_{id(version_dir)}", version_dir / "model.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    environment = json.loads((version_dir / "environment.json").read_text())
    config = {
        "max_batch_size": 64,
        "input": [{"name": column["tensor_name"]} for column in environment["columns"]],
        "output": [{"name": output["name"]} for output in environment["outputs"]],
    }
    model = module.TritonPythonModel()
    model.initialize({"model_config": json.dumps(config)})
    return model


def requests_of(fitted: zoo.Fitted, result: PackageResult) -> list[dict[str, Tensor]]:
    """The held-out rows as two requests (Triton merges requests into one batch)."""
    feeds = frame_to_feeds(fitted.held_out, result.metadata.input_schema)
    half = len(fitted.held_out) // 2
    return [
        {name: Tensor(name, array[part]) for name, array in feeds.items()}
        for part in (slice(0, half), slice(half, None))
    ]


def served(model: Any, requests: list[dict[str, Tensor]]) -> dict[str, Any]:
    responses = model.execute(requests)
    assert [response.error for response in responses] == [None] * len(requests)
    names = responses[0].outputs
    return {name: np.concatenate([r.outputs[name] for r in responses]) for name in names}


@pytest.mark.parametrize("mode", ["never", "always"])
def test_the_stub_answers_like_the_original_in_process_and_from_a_worker(
    mode: str, classifier: tuple[zoo.Fitted, PackageResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    fitted, result = classifier
    monkeypatch.setenv("MODELSHIP_FALLBACK_WORKER", mode)
    monkeypatch.setenv("MODELSHIP_FALLBACK_PYTHON", sys.executable)
    model = stub_model(result.model_dir / "1")
    try:
        assert (model.runner.worker is not None) == (mode == "always")
        answers = served(model, requests_of(fitted, result))
    finally:
        model.finalize()
    expected = zoo.expected_answers(fitted.model, fitted.held_out)
    assert answers["label"].reshape(-1).astype(str).tolist() == (
        expected["predict"].astype(str).tolist()
    )
    np.testing.assert_allclose(answers["probabilities"], expected["predict_proba"], atol=1e-6)


def test_the_worker_is_used_when_the_stubs_interpreter_lacks_the_versions(
    classifier: tuple[zoo.Fitted, PackageResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stock image: the stub's python differs from the recorded one, the worker's matches.
    fitted, result = classifier
    version_dir = version_copy(result, tmp_path)
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("MODELSHIP_FALLBACK_PYTHON", str(wrapper))
    monkeypatch.delenv("MODELSHIP_FALLBACK_WORKER", raising=False)
    model = stub_model(version_dir)
    model.finalize()
    assert model.runner.worker is None  # same versions here: in-process
    monkeypatch.setattr("platform.python_version", lambda: "3.10.12")
    model = stub_model(version_dir)
    try:
        assert model.runner.worker is not None
        assert model.runner.worker.python == str(wrapper)
        answers = served(model, requests_of(fitted, result))
    finally:
        model.finalize()
    assert len(answers["label"]) == len(fitted.held_out)


def test_a_worker_with_other_versions_refuses_in_one_line(
    classifier: tuple[zoo.Fitted, PackageResult], tmp_path: Path, force_worker: None
) -> None:
    _, result = classifier
    version_dir = version_copy(result, tmp_path)
    manifest = version_dir / "environment.json"
    environment = json.loads(manifest.read_text())
    environment["packages"]["scikit-learn"] = "0.24.2"
    manifest.write_text(json.dumps(environment))
    with pytest.raises(RuntimeError) as caught:
        stub_model(version_dir)
    message = str(caught.value)
    assert "\n" not in message
    assert "needs scikit-learn==0.24.2 (here " in message
    assert f"fallback worker {sys.executable}" in message


def test_a_worker_that_dies_is_restarted_once(
    classifier: tuple[zoo.Fitted, PackageResult], force_worker: None
) -> None:
    fitted, result = classifier
    model = stub_model(result.model_dir / "1")
    try:
        first = model.runner.worker.process.pid
        os.kill(first, signal.SIGKILL)
        answers = served(model, requests_of(fitted, result))
        assert model.runner.worker.process.pid != first
    finally:
        model.finalize()
    assert len(answers["label"]) == len(fitted.held_out)


def test_a_worker_that_dies_again_fails_the_request_saying_so(
    classifier: tuple[zoo.Fitted, PackageResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The interpreter starts once; every later start exits 3 (as an image whose worker crashes).
    fitted, result = classifier
    started = tmp_path / "started"
    wrapper = tmp_path / "python"
    wrapper.write_text(
        f'#!/bin/sh\n[ -e {started} ] && exit 3\ntouch {started}\nexec {sys.executable} "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("MODELSHIP_FALLBACK_WORKER", "always")
    monkeypatch.setenv("MODELSHIP_FALLBACK_PYTHON", str(wrapper))
    model = stub_model(result.model_dir / "1")
    try:
        os.kill(model.runner.worker.process.pid, signal.SIGKILL)
        responses = model.execute(requests_of(fitted, result))
    finally:
        model.finalize()
    messages = [response.error.message for response in responses]
    assert len(set(messages)) == 1
    assert "\n" not in messages[0]
    assert "fallback worker" in messages[0]
    assert "exited with code 3" in messages[0]


@pytest.mark.skipif(
    os.path.exists("/opt/modelship/bin/python"), reason="this machine has the default worker"
)
def test_without_a_worker_interpreter_the_refusal_says_how_to_name_one(
    classifier: tuple[zoo.Fitted, PackageResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, result = classifier
    version_dir = version_copy(result, tmp_path)
    monkeypatch.delenv("MODELSHIP_FALLBACK_WORKER", raising=False)
    monkeypatch.delenv("MODELSHIP_FALLBACK_PYTHON", raising=False)
    monkeypatch.setattr("platform.python_version", lambda: "3.10.12")  # the stock image's stub
    with pytest.raises(RuntimeError) as caught:
        stub_model(version_dir)
    message = str(caught.value)
    assert "\n" not in message
    assert "needs python " in message
    assert "set MODELSHIP_FALLBACK_PYTHON to a python that has them" in message
