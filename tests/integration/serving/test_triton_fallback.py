"""The real Triton binary serves a fallback package in its stub's interpreter or, as in the
stock serving image, from a worker of another interpreter (MODELSHIP_FALLBACK_PYTHON): either
way it answers like the original, and refuses to load a package whose pinned library versions
differ from the interpreter's that runs it, saying which in its log (what `kubectl logs`
shows)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from modelship_serving.errors import ServeError
from modelship_serving.packaging.package import PackageResult, package_model
from modelship_serving.triton.client import infer_frame
from modelship_serving.triton.server import TritonServer, TritonServerSettings
from support import model_zoo as zoo

pytestmark = pytest.mark.triton

MODES = ["in-process", "worker"]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """How model.py runs the pickle (tritonserver passes its environment to the stub)."""
    worker = request.param == "worker"
    monkeypatch.setenv("MODELSHIP_FALLBACK_WORKER", "always" if worker else "never")
    monkeypatch.setenv("MODELSHIP_FALLBACK_PYTHON", sys.executable)
    return str(request.param)


def packaged_fallback(tmp_path: Path) -> tuple[zoo.Fitted, PackageResult]:
    fitted = {case.name: case for case in zoo.ZOO}["log-transform-then-ridge"].build()
    fitted.write(tmp_path / "model.joblib", tmp_path / "sample.parquet")
    result = package_model(
        tmp_path / "model.joblib", tmp_path / "sample.parquet", "pinned", "1", tmp_path / "repo"
    )
    assert result.metadata.backend == "python"
    return fitted, result


def test_triton_serves_a_fallback_like_the_original(mode: str, tmp_path: Path) -> None:
    fitted, result = packaged_fallback(tmp_path)
    server = TritonServer(TritonServerSettings(repository=tmp_path / "repo"))
    server.start(ready_timeout=120)
    try:
        assert server.endpoints is not None
        outputs = infer_frame(server.endpoints.http, result.metadata, fitted.held_out, "http")
    finally:
        server.stop()
    np.testing.assert_allclose(
        outputs["prediction"].reshape(-1), fitted.model.predict(fitted.held_out), rtol=1e-5
    )


def test_triton_refuses_a_fallback_whose_versions_differ(mode: str, tmp_path: Path) -> None:
    _, result = packaged_fallback(tmp_path)
    manifest = result.model_dir / "1/environment.json"
    environment = json.loads(manifest.read_text())
    environment["packages"]["scikit-learn"] = "0.24.2"  # what an older serving image has
    manifest.write_text(json.dumps(environment))

    server = TritonServer(TritonServerSettings(repository=tmp_path / "repo"))
    with pytest.raises(ServeError) as caught:
        server.start(ready_timeout=120)
    assert "needs scikit-learn==0.24.2 (here " in str(caught.value)
    # the worker checked the versions in its own interpreter, so Triton ran the worker path
    assert (f"(fallback worker {sys.executable})" in str(caught.value)) == (mode == "worker")
