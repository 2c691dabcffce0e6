"""Packaged pipelines (numeric and mixed data, classifiers and a regressor, default and
python-backend packaging) served by the real Triton binary answer over HTTP and gRPC exactly
like the original scikit-learn models on held-out rows, also when concurrent requests are
batched together; `modelship serve` starts Triton, prints its endpoints and stops it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tritonclient.http as triton_http
from modelship_serving.triton.client import TritonProtocol, infer_frame
from modelship_serving.triton.server import TritonServer, free_port

pytestmark = pytest.mark.triton

MODEL_NAMES = ["wine", "churn", "spend", "churn-py"]


def assert_same_answers(model: Any, outputs: dict[str, Any], rows: Any, task: str) -> None:
    expected = model.predict(rows)
    if task == "classification":
        assert outputs["label"].reshape(-1).astype(str).tolist() == expected.astype(str).tolist()
        np.testing.assert_allclose(outputs["probabilities"], model.predict_proba(rows), atol=1e-5)
    else:
        np.testing.assert_allclose(outputs["prediction"].reshape(-1), expected, rtol=1e-4)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_answers_equal_scikit_learn(
    name: str, protocol: TritonProtocol, packaged: Any, triton: TritonServer
) -> None:
    served = packaged[1][name]
    assert triton.endpoints is not None
    url = triton.endpoints.http if protocol == "http" else triton.endpoints.grpc
    outputs = infer_frame(url, served.metadata, served.held_out, protocol)
    assert_same_answers(served.original, outputs, served.held_out, served.metadata.task)


def test_concurrent_single_row_requests_are_batched_and_split_back(
    packaged: Any, triton: TritonServer
) -> None:
    served = packaged[1]["churn"]
    assert triton.endpoints is not None
    url = triton.endpoints.http
    rows = [served.held_out.iloc[[index]] for index in range(len(served.held_out))]
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda row: infer_frame(url, served.metadata, row, "http"), rows))
    labels = [answer["label"].reshape(-1)[0] for answer in answers]
    assert labels == served.original.predict(served.held_out).tolist()


def test_model_config_triton_reports_matches_the_package(
    packaged: Any, triton: TritonServer
) -> None:
    assert triton.endpoints is not None
    with triton_http.InferenceServerClient(triton.endpoints.http) as client:
        config = client.get_model_config("churn")
        assert client.is_model_ready("churn")
    assert [i["name"] for i in config["input"]] == ["age", "income", "city", "plan"]
    assert [o["name"] for o in config["output"]] == ["label", "probabilities"]
    assert config["max_batch_size"] == 64
    assert "dynamic_batching" in config


def test_serve_command_prints_endpoints_and_stops_on_sigterm(packaged: Any, tmp_path: Path) -> None:
    ports = [str(free_port()) for _ in range(3)]
    arguments = ["serve", str(packaged[0]), "--http-port", ports[0], "--grpc-port", ports[1]]
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from modelship.cli import main; main()",
            *arguments,
            "--metrics-port",
            ports[2],
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ),
    )
    try:
        assert process.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if "Press Ctrl-C" in line or not line:
                break
        text = "".join(lines)
        assert re.search(rf"HTTP\s+127\.0\.0\.1:{ports[0]}", text), text
        assert f"127.0.0.1:{ports[1]}" in text
        assert f"http://127.0.0.1:{ports[2]}/metrics" in text
        with triton_http.InferenceServerClient(f"127.0.0.1:{ports[0]}") as client:
            assert client.is_server_ready()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    # Triton went down with it: nothing listens on its HTTP port any more.
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", int(ports[0]))) != 0
