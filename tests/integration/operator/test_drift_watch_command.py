"""The drift-watch pod's command line, as the operator writes it, run for real and read back.

The contract between the builder and `modelship drift-watch` (mirror mode), end to end: the
container args of the drift-watch Deployment (with the pod's /models and ports mapped onto
this machine) start the real receiver on a packaged churn model; the test plays the Gateway,
posting copies of inference requests (Triton's binary-tensor body) to its mirror port,
income shifted by one standard deviation; then the operator's own reader parses the pod's
/metrics and judges it by the batch rule. Proves: the args parse and start the receiver,
both probes answer on the mirror port, the metrics carry the revision the operator expects,
and income alone is flagged. Skipped, saying so, where the CLI has no mirror mode yet.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import tritonclient.http as triton_http
from click.testing import CliRunner
from modelship.api import ModelDeployment
from modelship.builders import build_model_deployment_children, resolve_model, steady_plan
from modelship.cli import main
from modelship.handlers.drift_watch_metrics import live_window
from modelship_serving.drift_rules import feature_drifted, significant
from modelship_serving.triton.client import infer_inputs
from modelship_serving.triton.server import free_port
from support.custom_resources import model_deployment_body
from support.live_drift import package_churn, traffic

HEADER_LENGTH = "Inference-Header-Content-Length"
REQUESTS, ROWS_PER_REQUEST = 60, 10
MIRROR_MODE = "--mirror-http-port" in CliRunner().invoke(main, ["drift-watch", "--help"]).output


def _drift_watch_container(md: ModelDeployment) -> dict[str, Any]:
    children = build_model_deployment_children(md, steady_plan(md, resolve_model(md)))
    [deployment] = [
        c
        for c in children
        if c["kind"] == "Deployment" and c["metadata"]["name"].endswith("drift-watch")
    ]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return int(answer.status), answer.read().decode()


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "drift-watch exited"
        try:
            if _get(url)[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"drift-watch never answered {url}")


@pytest.mark.skipif(not MIRROR_MODE, reason="`modelship drift-watch` has no mirror mode here yet")
def test_the_operators_command_line_runs_the_receiver_and_its_window_reads_back(
    tmp_path: Path,
) -> None:
    repository, metadata = package_churn(tmp_path)
    body = model_deployment_body(
        "churn",
        "ml",
        uid="0b6f2a39-5c1e-4f7e-9a1d-2f3c4b5a6d7e",
        rollout={
            "strategy": "Canary",
            "canary": {"traffic": {"router": "gatewayAPI", "parentRefs": [{"name": "gw"}]}},
        },
        monitoring={"drift": {"mirrorPercent": 10, "window": "1h", "threshold": 0.2}},
    )
    md = ModelDeployment.model_validate(body)
    container = _drift_watch_container(md)
    args = container["args"]
    revision = args[args.index("--revision") + 1]
    ports = {str(port["containerPort"]): str(free_port()) for port in container["ports"]}
    local = [str(repository) if a == "/models" else ports.get(a, a) for a in args]
    http_port, metrics_port = ports["8004"], ports["8003"]
    loopback = ["--metrics-address", "127.0.0.1", "--mirror-address", "127.0.0.1"]
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "modelship"), *local, *loopback],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_ready(f"http://127.0.0.1:{http_port}/v2/health/ready", process)
        assert _get(f"http://127.0.0.1:{http_port}/healthz")[0] == 200
        path = f"/v2/models/{metadata.name}/infer"
        for index in range(REQUESTS):
            rows = traffic(ROWS_PER_REQUEST, 100 + index, income_shift_in_std=1.0)
            inputs = infer_inputs(rows, metadata.input_schema, triton_http.InferInput)
            payload, length = triton_http.InferenceServerClient.generate_request_body(inputs)
            copy = urllib.request.Request(
                f"http://127.0.0.1:{http_port}{path}",
                data=payload,
                headers={HEADER_LENGTH: str(length)},
                method="POST",
            )
            with urllib.request.urlopen(copy, timeout=5) as answer:
                assert answer.status == 200

        def window() -> Any:
            found = live_window(_get(f"http://127.0.0.1:{metrics_port}/metrics")[1])
            return (
                None
                if isinstance(found, str) or found.rows < REQUESTS * ROWS_PER_REQUEST
                else found
            )

        deadline = time.monotonic() + 30
        while (found := window()) is None:
            assert time.monotonic() < deadline, "the copies were never all counted"
            time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert (found.revision, found.rows) == (revision, REQUESTS * ROWS_PER_REQUEST)
    judged = {
        name: feature_drifted(feature.psi, significant(feature.p_value), 0.2)
        for name, feature in found.features.items()
    }
    assert [name for name, drifted in judged.items() if drifted] == ["income"]
