"""The chart's RBAC is enough for everything the real operator does, as the chart starts it.

The operator process runs with the exact arguments `helm template` renders (standalone,
and with peering against the peering objects the chart's hook creates) against the
emulated API server, while the shared operator scenarios drive it. Every API request it
makes is then authorized against the rendered ClusterRole and Roles, the way Kubernetes'
RBAC authorizer matches rules (verb, API group, resource/subresource, namespace). The
emulator enforces no RBAC itself, so this is what shows the least-privilege rules are not
too tight; the unit tests in tests/unit/chart show they are not too wide.

The emulator cannot serve Namespace objects (kmock 0.8 misparses /api/v1/namespaces), so
the operator runs cluster-wide here. The same requests are also authorized against the
namespaced-mode rendering, each cluster-wide list or watch becoming one per watched
namespace and the ClusterKopfPeering a KopfPeering in each, as Kopf does in that mode.
Kopf's own listing of namespaces in that mode is covered by the unit tests only.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube.generic_resource import create_global_resource, create_namespaced_resource

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "integration" / "operator"))

import scenarios  # noqa: E402
from emulator import EmulatorThread  # noqa: E402
from harness import EmulatedCluster  # noqa: E402

Obj = dict[str, Any]
OPERATOR_TOKEN = "operator"
SCENARIO_TOKEN = "scenarios"
# One namespace per scenario: they reuse object names.
SCENARIOS = {
    "ml-create": scenarios.create_gives_children_and_ready,
    "ml-version": scenarios.version_change_makes_new_revision,
    "ml-secret": scenarios.missing_secret_is_reported_and_touches_nothing,
    "ml-retrain": scenarios.model_from_retrain_job,
    "ml-delete": scenarios.deletion_leaves_only_owned_children,
}
MODES = {"standalone": {}, "peering": {"peering": {"enabled": True}}}
create_global_resource("kopf.dev", "v1", "ClusterKopfPeering", "clusterkopfpeerings")
create_namespaced_resource("kopf.dev", "v1", "KopfPeering", "kopfpeerings")
CLUSTER_SCOPED = {"customresourcedefinitions", "namespaces", "clusterkopfpeerings"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def kubeconfig(url: str, token: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "emulator",
        "clusters": [{"name": "emulator", "cluster": {"server": url}}],
        "users": [{"name": "emulator", "user": {"token": token}}],
        "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "emulator"}}],
    }


def helm_template(values: Obj, tmp_path: Path) -> list[Obj]:
    helm = REPO / ".tools" / "bin" / "helm"
    binary = str(helm) if helm.is_file() else shutil.which("helm")
    if binary is None:
        pytest.skip("helm is not installed: run hack/install-helm.sh (hack/setup.sh does)")
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    command = [binary, "template", "modelship", str(REPO / "charts" / "modelship")]
    command += ["--namespace=modelship-system", "--include-crds", f"--values={values_file}"]
    result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@dataclass(frozen=True)
class Request:
    """One API request as RBAC sees it."""

    verb: str
    group: str
    resource: str  # plural, or plural/subresource
    namespace: str | None

    def __str__(self) -> str:
        where = f" in {self.namespace}" if self.namespace else " (cluster)"
        return f"{self.verb} {self.group or 'core'}/{self.resource}{where}"


def as_request(request: Any) -> Request | None:
    """The RBAC view of a logged request; None for discovery, which every user may read."""
    resource = request.resource
    if resource is None or not resource.plural:
        return None
    method, named = str(request.method.value), request.name is not None
    if method == "GET":
        watching = request.params.get("watch") in ("true", "1")
        verb = "watch" if watching else "get" if named else "list"
    else:
        verbs = {"POST": "create", "PUT": "update", "PATCH": "patch"}
        verb = verbs.get(method) or ("delete" if named else "deletecollection")
    plural = resource.plural + (f"/{request.subresource}" if request.subresource else "")
    return Request(verb, resource.group or "", plural, request.namespace)


def in_namespaced_mode(request: Request, namespaces: list[str]) -> list[Request]:
    """The requests Kopf makes instead of this one when it watches only `namespaces`."""
    if request.resource == "clusterkopfpeerings":
        return [Request(request.verb, request.group, "kopfpeerings", ns) for ns in namespaces]
    if request.namespace is None and request.resource.split("/")[0] not in CLUSTER_SCOPED:
        return [Request(request.verb, request.group, request.resource, ns) for ns in namespaces]
    return [request]


def authorized(request: Request, rendered: list[Obj]) -> bool:
    """Whether a ClusterRole (anywhere) or a Role (in its namespace) allows the request."""
    for role in rendered:
        if role["kind"] == "Role" and role["metadata"]["namespace"] != request.namespace:
            continue
        if role["kind"] not in ("Role", "ClusterRole"):
            continue
        for rule in role["rules"]:
            if (
                request.verb in rule["verbs"]
                and request.group in rule["apiGroups"]
                and request.resource in rule["resources"]
            ):
                return True
    return False


class ChartStartedOperator:
    """`modelship operator` with the container's args from the rendered Deployment."""

    def __init__(self, deployment: Obj, kubeconfig_path: Path, log: Path) -> None:
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        self.command = [str(Path(sys.executable).parent / "modelship"), *container["args"]]
        self.ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        self.env = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig_path),
            # The chart listens on 0.0.0.0 in the pod; tests stay on the loopback.
            "MODELSHIP_LIVENESS_ADDRESS": "127.0.0.1",
            "MODELSHIP_METRICS_ADDRESS": "127.0.0.1",
        }
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def stop(self, kill: bool = False) -> None:
        if self.process is not None:
            self.process.kill() if kill else self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def answers(self, port_name: str, path: str) -> bytes:
        url = f"http://127.0.0.1:{self.ports[port_name]}{path}"
        with urllib.request.urlopen(url, timeout=5) as response:
            body: bytes = response.read()
            return body


@pytest.fixture(params=sorted(MODES))
def chart_cluster(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[EmulatedCluster, ChartStartedOperator, list[Obj], list[Obj]]]:
    values = {
        **MODES[request.param],
        "health": {"port": free_port()},
        "metrics": {"port": free_port()},
        # Short, as in the operator's own integration tests: some scenarios wait on a resync.
        "operator": {"resyncInterval": 1},
    }
    rendered = helm_template(values, tmp_path)
    namespaced = helm_template({**values, "watchNamespaces": sorted(SCENARIOS)}, tmp_path)
    crds = [obj for obj in rendered if obj["kind"] == "CustomResourceDefinition"]
    (deployment,) = [obj for obj in rendered if obj["kind"] == "Deployment"]
    with EmulatorThread(crds) as server:
        scenario_config = kubeconfig(server.url, SCENARIO_TOKEN)
        operator_config = tmp_path / "kubeconfig"
        operator_config.write_text(json.dumps(kubeconfig(server.url, OPERATOR_TOKEN)))
        operator = ChartStartedOperator(deployment, operator_config, tmp_path / "operator.log")
        cluster = EmulatedCluster(server, scenario_config, operator)  # type: ignore[arg-type]
        # What the chart's post-install hook creates: the peering objects.
        for peering in (obj for obj in rendered if obj["apiVersion"] == "kopf.dev/v1"):
            scenarios.create(cluster, peering)
        operator.start()
        try:
            yield cluster, operator, rendered, namespaced
        finally:
            operator.stop()
            if getattr(request.node, "rep_call", None) and request.node.rep_call.failed:
                print(operator.log.read_text()[-20000:])


def test_every_request_of_the_operator_is_authorized(
    chart_cluster: tuple[EmulatedCluster, ChartStartedOperator, list[Obj], list[Obj]],
) -> None:
    cluster, operator, rendered, namespaced = chart_cluster
    for namespace, scenario in SCENARIOS.items():
        scenario(cluster, namespace)
    operator.answers("health", "/healthz")  # urlopen raises unless it is a 2xx
    assert b"# TYPE" in operator.answers("metrics", "/metrics")

    def operator_requests() -> list[Any]:
        return [
            request
            for request in cluster.server.emulator._requests
            if request.headers.get("Authorization") == f"Bearer {OPERATOR_TOKEN}"
        ]

    made = {found for raw in cluster.server.call(operator_requests) if (found := as_request(raw))}
    assert made, "the operator made no request at all"
    denied = sorted(str(request) for request in made if not authorized(request, rendered))
    assert denied == []
    denied_namespaced = sorted(
        str(instead)
        for request in made
        for instead in in_namespaced_mode(request, sorted(SCENARIOS))
        if not authorized(instead, namespaced)
    )
    assert denied_namespaced == []
    # The scenarios reached the rights that matter most, so the check above means something.
    verbs = {(request.verb, request.resource) for request in made}
    assert {("create", "deployments"), ("delete", "deployments"), ("get", "secrets")} <= verbs
    assert ("patch", "modeldeployments/status") in verbs
    if any(obj["apiVersion"] == "kopf.dev/v1" for obj in rendered):
        assert ("patch", "clusterkopfpeerings") in verbs, "the operator ran without peering"
