"""Two real Tritons playing the stable and canary revisions' pods of a canary rollout, each on
its own loopback address with Triton's metrics on the port the operator scrapes (8002), and
the gateway the test plays: it sends each request to one of them by the HTTPRoute's weights.
A slow variant of the model answers the same, only later."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import tritonclient.http as triton_http
from modelship.builders.defaults import METRICS_PORT
from modelship_serving.packaging.package import package_model
from modelship_serving.triton.config import ModelConfigOptions
from modelship_serving.triton.server import TritonServer, TritonServerSettings
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from tritonclient.utils import InferenceServerException

from support.harness import EmulatedCluster
from support.scenarios import (
    MD_API,
    Obj,
    create,
    deployments,
    get,
    new_revision,
    patch,
    ready_model_deployment,
)

STABLE_ADDRESS, CANARY_ADDRESS = "127.0.0.2", "127.0.0.3"
MODEL = "wine"


# Appended to the python-backend runner of the slow variant: every batch waits first, so
# Triton's request duration counters grow by the delay on each request.
_SLOW_EXECUTE = """

import time as _time

_answer = TritonPythonModel.execute


def _answer_late(self, requests):
    _time.sleep({seconds!r})
    return _answer(self, requests)


TritonPythonModel.execute = _answer_late
"""


def package(work: Path, delay_seconds: float = 0.0) -> Path:
    """A classifier on one text column: text that is not UTF-8 fails inside the backend,
    which Triton counts in nv_inference_request_failure. With a delay, the same model served
    by the python backend, which sleeps that long before answering each batch."""
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"region": rng.choice(["north", "south"], 100)})
    labels = np.where(frame["region"] == "north", "red", "white")
    model = Pipeline([("region", OneHotEncoder()), ("clf", LogisticRegression())])
    model.fit(frame, labels)
    joblib.dump(model, work / "wine.joblib")
    frame.to_csv(work / "wine.csv", index=False)
    repository = work / "repository"
    options = ModelConfigOptions(backend="python") if delay_seconds else None
    package_model(
        work / "wine.joblib", work / "wine.csv", MODEL, "1", repository, config_options=options
    )
    if delay_seconds:
        with (repository / MODEL / "1" / "model.py").open("a") as runner:
            runner.write(_SLOW_EXECUTE.format(seconds=delay_seconds))
    return repository


def serve(repository: Path, address: str) -> TritonServer:
    """A started Triton on `address`, its metrics on 8002 there, as a pod's would be on its IP."""
    server = TritonServer(
        TritonServerSettings(repository=repository, address=address, metrics_port=METRICS_PORT)
    )
    server.start()
    return server


def serve_pod(cluster: EmulatedCluster, deployment: Obj, ip: str) -> None:
    """The revision's one pod, `<deployment>-pod`, ready at `ip`, as the kubelet would report
    it (the operator scrapes and routes to that address)."""
    meta, template = deployment["metadata"], deployment["spec"]["template"]
    name, namespace = f"{meta['name']}-pod", meta["namespace"]
    metadata = {"name": name, "namespace": namespace, **template["metadata"]}
    create(
        cluster, {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]}
    )
    status = {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]}
    patch(cluster, "v1", "Pod", namespace, name, {"status": status}, True)


def canary_of_v2(
    cluster: EmulatedCluster, namespace: str, spec: dict[str, Any], stable_ip: str
) -> tuple[Obj, Obj]:
    """ModelDeployment `wine` serves v1 (with ``spec``) from a pod ready at ``stable_ip``;
    its model then moves to v2. Returns the stable and the canary Deployment once the
    operator created the canary (its pods are the test's to start)."""
    ready_model_deployment(cluster, namespace, MODEL, **spec)
    (stable,) = deployments(cluster, namespace, MODEL)
    serve_pod(cluster, stable, stable_ip)
    v2 = {"version": "2", "uri": f"s3://models/{MODEL}/2"}
    patch(cluster, MD_API, "ModelDeployment", namespace, MODEL, {"spec": {"model": v2}})
    return stable, new_revision(cluster, namespace, MODEL, stable["metadata"]["name"])


def route_weights(cluster: EmulatedCluster, namespace: str, name: str) -> dict[str, int]:
    """The weight of each backend of the HTTPRoute the operator wrote, by Service name."""
    route = get(cluster, "gateway.networking.k8s.io/v1", "HTTPRoute", namespace, name) or {}
    rules = (route.get("spec") or {}).get("rules") or [{}]
    return {ref["name"]: int(ref.get("weight", 1)) for ref in rules[0].get("backendRefs", [])}


@contextmanager
def tritons(repository: Path) -> Iterator[dict[str, TritonServer]]:
    """Triton on each address, metrics on 8002 there, as a pod's would be on its IP."""
    started: dict[str, TritonServer] = {}
    try:
        for address in (STABLE_ADDRESS, CANARY_ADDRESS):
            started[address] = serve(repository, address)
        yield started
    finally:
        for server in started.values():
            server.stop()


def _inputs(client: triton_http.InferenceServerClient, text: bytes) -> list[Any]:
    (spec,) = client.get_model_config(MODEL)["input"]
    tensor = triton_http.InferInput(spec["name"], [1, 1], "BYTES")
    tensor.set_data_from_numpy(np.array([[text]], dtype=object))
    return [tensor]


@dataclass
class Gateway:
    """Sends requests split by the route's backend weights, as a Gateway would."""

    clients: dict[str, triton_http.InferenceServerClient]  # by revision name
    # Share of the canary's requests that carry text its backend fails on.
    canary_failing: float = 0.0
    # The same for every other revision's requests: a baseline of failures.
    others_failing: float = 0.0
    canary: str | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    sent: dict[str, list[int]] = field(default_factory=dict)  # revision: [ok, failed]

    def send(self, weights: dict[str, int], seconds: float) -> None:
        backends = [name for name, weight in weights.items() if weight > 0]
        if not backends:
            return
        inputs = {b: (_inputs(self.clients[b], b"north"), _inputs(self.clients[b], b"\xff\xfe"))
                  for b in backends}  # fmt: skip
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            name = self.rng.choices(backends, [weights[b] for b in backends])[0]
            share = self.canary_failing if name == self.canary else self.others_failing
            failing = self.rng.random() < share
            counts = self.sent.setdefault(name, [0, 0])
            try:
                self.clients[name].infer(MODEL, inputs[name][1 if failing else 0])
            except InferenceServerException:
                counts[1] += 1
            else:
                counts[0] += 1
