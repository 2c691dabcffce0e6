"""The canary's prediction gate end to end: the real operator against the emulated API server,
real Triton processes as the stable and canary revisions' pods (each on its own loopback
address, whose pod IPs the emulated pods carry), and the test playing the Job controller:
it runs the gate Job's container command here, with the container's environment, the model
repository the init container would have fetched, and the revisions' Service names
resolved to the Tritons behind them, then reports how it ended on a pod and the Job, as the
kubelet and the Job controller would.

A canary trained on shuffled labels serves fine but answers differently: it is rolled back
before any traffic (the route never weighs it above 0). The same model passes the gate and
takes its first step.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from lightkube.generic_resource import create_namespaced_resource
from modelship_serving.packaging.package import package_model
from modelship_serving.triton.server import TritonServer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from support.canary_tritons import MODEL, canary_of_v2, package, route_weights, serve, serve_pod
from support.harness import EmulatedCluster
from support.scenarios import (
    MD_API,
    Obj,
    condition,
    deployments,
    get,
    job_pod_ended,
    list_owned,
    patch,
    wait_for,
)

pytestmark = pytest.mark.triton

NS = "ml"
# Addresses of their own, so that these Tritons never meet test_canary.py's.
STABLE_ADDRESS, CANARY_ADDRESS = "127.0.0.6", "127.0.0.7"
create_namespaced_resource("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes")
SPEC: dict[str, Any] = {
    "serving": {"replicas": 1},
    "rollout": {
        "strategy": "Canary",
        "canary": {
            "steps": [{"weight": 20, "pause": "10m"}],
            "analysis": {"interval": "4s", "minRequests": 50},
            "traffic": {"router": "gatewayAPI", "parentRefs": [{"name": "gateway"}]},
            "predictionGate": {"minAgreement": 0.95, "rows": 400, "timeout": "2m"},
        },
    },
}


def shuffled_package(work: Path) -> Path:
    """The same model (name, version, input, outputs), trained on shuffled labels."""
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"region": rng.choice(["north", "south"], 100)})
    labels = rng.permutation(np.where(frame["region"] == "north", "red", "white"))
    model = Pipeline([("region", OneHotEncoder()), ("clf", LogisticRegression())])
    model.fit(frame, labels)
    joblib.dump(model, work / "wine.joblib")
    frame.to_csv(work / "wine.csv", index=False)
    package_model(work / "wine.joblib", work / "wine.csv", MODEL, "1", work / "repository")
    return work / "repository"


@pytest.fixture(scope="module")
def repositories(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {
        "same": package(tmp_path_factory.mktemp("same")),
        "shuffled": shuffled_package(tmp_path_factory.mktemp("shuffled")),
    }


@pytest.fixture(scope="module")
def stable_triton(repositories: dict[str, Path]) -> Iterator[TritonServer]:
    with triton(repositories["same"], STABLE_ADDRESS) as server:
        yield server


@contextmanager
def triton(repository: Path, address: str) -> Iterator[TritonServer]:
    server = serve(repository, address)
    try:
        yield server
    finally:
        server.stop()


def canary_weight(cluster: EmulatedCluster, canary: str) -> int:
    return route_weights(cluster, NS, "wine").get(canary, 0)


def run_gate_job(
    cluster: EmulatedCluster, job: Obj, repository: Path, endpoints: dict[str, str], work: Path
) -> subprocess.CompletedProcess[str]:
    """Play the Job controller and the kubelet: run the compare container's command here and
    report its termination message on a pod of the Job, then the Job's outcome."""
    name = job["metadata"]["name"]
    pod_spec = job["spec"]["template"]["spec"]
    (container,) = pod_spec["containers"]
    args = list(container["args"])
    args[args.index("--model-repo") + 1] = str(repository)  # what fetch would have filled
    for flag in ("--stable", "--candidate"):  # the cluster's DNS: Service to its pod
        args[args.index(flag) + 1] = endpoints[args[args.index(flag) + 1]]
    message = work / f"{name}.termination-log"
    args[args.index("--termination-path") + 1] = str(message)
    env = {**os.environ, **{var["name"]: var["value"] for var in container.get("env", [])}}
    env["HOME"] = str(work)  # the pod's /tmp
    ran = subprocess.run(
        [sys.executable, "-c", "from modelship.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    job_pod_ended(cluster, job, {"exitCode": ran.returncode, "message": message.read_text()})
    if ran.returncode == 0:
        outcome: Obj = {"succeeded": 1}
    else:
        outcome = {"failed": 1, "conditions": [{"type": "Failed", "status": "True"}]}
    patch(cluster, "batch/v1", "Job", NS, name, {"status": outcome}, True)
    return ran


def gated_rollout(
    cluster: EmulatedCluster, stable_triton: TritonServer, candidate: Path, work: Path
) -> tuple[Obj, str, list[int], subprocess.CompletedProcess[str]]:
    """v1 serves; v2 (serving `candidate`) rolls out behind the gate, which the test runs.
    Returns the ModelDeployment once the gate's verdict is acted on, the canary's name,
    every canary weight the route showed meanwhile, and how the compare command ran."""
    stable, canary = canary_of_v2(cluster, NS, SPEC, STABLE_ADDRESS)
    names = stable["metadata"]["name"], canary["metadata"]["name"]
    weights = [canary_weight(cluster, names[1])]
    with triton(candidate, CANARY_ADDRESS) as canary_triton:
        cluster.make_available(canary)
        serve_pod(cluster, canary, CANARY_ADDRESS)

        def gate_job() -> Obj | None:
            weights.append(canary_weight(cluster, names[1]))
            jobs = list_owned(cluster, "batch/v1", "Job", NS, "wine")
            return jobs[0] if jobs else None

        job = wait_for("the prediction gate Job", gate_job)
        md = get(cluster, MD_API, "ModelDeployment", NS, "wine") or {}
        assert condition(md, "Progressing")["reason"] == "PredictionGate"
        assert md["status"]["canary"]["predictionGate"]["phase"] == "Running"
        endpoints = {
            f"{name}.{NS}.svc:8000": server.endpoints.http
            for name, server in zip(names, (stable_triton, canary_triton), strict=True)
            if server.endpoints is not None
        }
        assert set(weights) == {0}, "no traffic while the gate runs"
        ran = run_gate_job(cluster, job, candidate, endpoints, work)

        def acted_on() -> Obj | None:
            weights.append(canary_weight(cluster, names[1]))
            found = get(cluster, MD_API, "ModelDeployment", NS, "wine") or {}
            gate = ((found.get("status") or {}).get("canary") or {}).get("predictionGate") or {}
            failed = condition(found, "Degraded").get("reason") == "CanaryFailed"
            return found if failed or gate.get("phase") == "Passed" else None

        md = wait_for("the gate's verdict acted on", acted_on)
        deadline = time.monotonic() + 3  # what the route shows just after
        while time.monotonic() < deadline:
            weights.append(canary_weight(cluster, names[1]))
            time.sleep(0.1)
    return md, names[1], weights, ran


def test_a_canary_that_predicts_differently_is_rolled_back_before_any_traffic(
    cluster: EmulatedCluster,
    stable_triton: TritonServer,
    repositories: dict[str, Path],
    tmp_path: Path,
) -> None:
    md, canary, weights, ran = gated_rollout(
        cluster, stable_triton, repositories["shuffled"], tmp_path
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("wine: labels agree on ")
    assert set(weights) == {0}, "no request was ever routed to the canary"
    degraded = condition(md, "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "CanaryFailed")
    assert (
        "was rolled back by its prediction gate, before any traffic: labels agree on"
        in (degraded["message"])
    )
    assert "failed (agreement" in degraded["message"]
    assert condition(md, "Ready")["status"] == "True", "the stable revision serves on"
    assert [(h["version"], h["outcome"]) for h in md["status"]["history"]][:2] == [
        ("2", "RolledBack"),
        ("1", "Serving"),
    ]
    wait_for("the gate Job to go", lambda: not list_owned(cluster, "batch/v1", "Job", NS, "wine"))
    wait_for(
        "the canary to be scaled down",
        lambda: all(d["metadata"]["name"] != canary for d in deployments(cluster, NS, "wine")),
    )


def test_a_canary_that_predicts_alike_passes_the_gate_and_takes_its_first_step(
    cluster: EmulatedCluster,
    stable_triton: TritonServer,
    repositories: dict[str, Path],
    tmp_path: Path,
) -> None:
    md, canary, _, ran = gated_rollout(cluster, stable_triton, repositories["same"], tmp_path)
    assert ran.returncode == 0, ran.stderr
    gate = md["status"]["canary"]["predictionGate"]
    assert gate["message"] == "labels agree on 100.0% of 400 rows: passed"
    assert condition(md, "Degraded")["status"] == "False"
    wait_for("the first step's weight on the route", lambda: canary_weight(cluster, canary) == 20)
    wait_for("the gate Job to go", lambda: not list_owned(cluster, "batch/v1", "Job", NS, "wine"))
