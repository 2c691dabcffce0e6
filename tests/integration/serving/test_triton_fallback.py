"""The real Triton binary refuses to load a fallback package whose pinned library versions
differ from its python backend's, and says which, in its log (what `kubectl logs` shows)."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pytest
from modelship_serving.errors import ServeError
from modelship_serving.packaging.package import package_model
from modelship_serving.triton.server import TritonServer, TritonServerSettings
from support import model_zoo as zoo

pytestmark = pytest.mark.triton


def test_triton_refuses_a_fallback_whose_versions_differ(tmp_path: Path) -> None:
    fitted = {case.name: case for case in zoo.ZOO}["log-transform-then-ridge"].build()
    joblib.dump(fitted.model, tmp_path / "model.joblib")
    fitted.sample.to_parquet(tmp_path / "sample.parquet")
    result = package_model(
        tmp_path / "model.joblib", tmp_path / "sample.parquet", "pinned", "1", tmp_path / "repo"
    )
    manifest = result.model_dir / "1/environment.json"
    environment = json.loads(manifest.read_text())
    environment["packages"]["scikit-learn"] = "0.24.2"  # what an older serving image has
    manifest.write_text(json.dumps(environment))

    server = TritonServer(TritonServerSettings(repository=tmp_path / "repo"))
    with pytest.raises(ServeError) as caught:
        server.start(ready_timeout=120)
    assert "needs scikit-learn==0.24.2 (here " in str(caught.value)
