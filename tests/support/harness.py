"""The operator process as users start it, and the emulated cluster the scenarios drive."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import httpx2
import yaml
from lightkube import Client, KubeConfig
from modelship_serving.triton.server import free_port

from support.emulator import EmulatorThread, Fault
from support.scenarios import Obj, create, delete, list_all, patch

ROOT = Path(__file__).parents[2]
MODELSHIP = Path(sys.executable).parent / "modelship"
# Short, so that resync-driven behaviour shows within a test's patience.
RESYNC_SECONDS = 1.0
# The upstream kinds the operator watches and creates (ScaledObject, HTTPRoute, GRPCRoute),
# as vendored.
UPSTREAM_CRDS = ROOT / "tests" / "conformance" / "upstream" / "crds"


def upstream_crds() -> list[Obj]:
    return [yaml.safe_load(path.read_text()) for path in sorted(UPSTREAM_CRDS.glob("*.yaml"))]


def emulated_crds() -> list[Obj]:
    """modelship's CRDs from crds/ and the upstream ones: what the emulator serves."""
    own = [yaml.safe_load(path.read_text()) for path in sorted((ROOT / "crds").glob("*.yaml"))]
    return own + upstream_crds()


def kubeconfig(url: str, token: str = "unused") -> Obj:
    """A kubeconfig for the emulator at `url`, authenticating with `token`."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "emulator",
        "clusters": [{"name": "emulator", "cluster": {"server": url}}],
        "users": [{"name": "emulator", "user": {"token": token}}],
        "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "emulator"}}],
    }


class OperatorProcess:
    """`modelship operator` in a subprocess, its log kept for when a test fails."""

    def __init__(self, kubeconfig: Path, log: Path) -> None:
        self.kubeconfig, self.log = kubeconfig, log
        self.process: subprocess.Popen[bytes] | None = None
        self.extra_args: list[str] = []  # appended: a repeated option's last value wins
        self.env: dict[str, str] = {}  # MODELSHIP_* settings given as users' manifests may
        self.verbose = True  # False: the chart's default log level

    def start(self, namespaces: list[str] | None = None) -> None:
        env = {**os.environ, **self.env, "KUBECONFIG": str(self.kubeconfig)}
        watch = [f"--namespace={ns}" for ns in namespaces or []]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(MODELSHIP),
                    "operator",
                    f"--resync-interval={RESYNC_SECONDS}",
                    "--metrics-port=0",
                    "--liveness-port=0",
                    *(["--verbose"] if self.verbose else []),
                    *watch,
                    *self.extra_args,
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self, kill: bool = False) -> None:
        if self.process is not None:
            stop_process(self.process, kill)
            self.process = None

    def restart_with_metrics(self) -> Callable[[], str]:
        """Restart serving /metrics on a free port; returns a reader of it ('' while the
        operator does not answer)."""
        port = free_port()
        self.stop()
        self.extra_args = [*self.extra_args, f"--metrics-port={port}"]
        self.start()
        return functools.partial(metrics_text, port)


def metrics_text(port: int, timeout: float = 5) -> str:
    """The Prometheus metrics page served on 127.0.0.1:``port``; '' while nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as page:
            return str(page.read().decode())
    except OSError:
        return ""


def stop_process(process: subprocess.Popen[bytes], kill: bool = False) -> None:
    """SIGTERM (SIGKILL when `kill`), then SIGKILL if it has not exited within 20 seconds."""
    process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def available_status(deployment: Obj) -> Obj:
    """The status the Deployment controller writes once every replica is up to date and ready."""
    replicas = deployment["spec"].get("replicas", 1)
    return {
        "observedGeneration": deployment["metadata"]["generation"],
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "conditions": [{"type": "Available", "status": "True", "reason": "Ready"}],
    }


class EmulatedCluster:
    """The Cluster of the scenarios, over the emulator; plus what only an emulator can do."""

    def __init__(self, server: EmulatorThread, kubeconfig: Obj, operator: OperatorProcess) -> None:
        self.server = server
        # lightkube's 10 s is short for an emulator sharing 2 loaded cores with the operator.
        self.client = Client(KubeConfig.from_dict(kubeconfig), timeout=httpx2.Timeout(60))
        self.operator = operator

    def make_available(self, deployment: Obj) -> None:
        meta = deployment["metadata"]
        status = available_status(deployment)
        patch(
            self, "apps/v1", "Deployment", meta["namespace"], meta["name"], {"status": status}, True
        )
        # No ReplicaSet controller here: the pods it was told are stuck give way to ready ones.
        for pod in self._pods_of(deployment):
            delete(self, "v1", "Pod", meta["namespace"], pod["metadata"]["name"])

    def stick_pod(self, deployment: Obj, container: str, reason: str, message: str) -> None:
        meta, template = deployment["metadata"], deployment["spec"]["template"]
        name = f"{meta['name']}-{len(self._pods_of(deployment))}"
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": meta["namespace"], **template["metadata"]},
            "spec": template["spec"],
        }
        create(self, pod)
        stuck = {"waiting": {"reason": reason, "message": message}}
        starting = {"waiting": {"reason": "PodInitializing"}}
        statuses = [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "state": stuck if c["name"] == container else starting,
            }
            for c in template["spec"].get("initContainers", []) + template["spec"]["containers"]
        ]
        init = len(template["spec"].get("initContainers", []))
        status = {
            "phase": "Pending",
            "initContainerStatuses": statuses[:init],
            "containerStatuses": statuses[init:],
        }
        patch(self, "v1", "Pod", meta["namespace"], name, {"status": status}, True)

    def _pods_of(self, deployment: Obj) -> list[Obj]:
        selector = deployment["spec"]["selector"]["matchLabels"]
        return [
            pod
            for pod in list_all(self, "v1", "Pod", deployment["metadata"]["namespace"])
            if selector.items() <= pod["metadata"].get("labels", {}).items()
        ]

    def assert_collected(self, owner: Obj, children: list[Obj]) -> None:
        # No garbage collector here: what it would collect is what names the owner as controller.
        for child in children:
            refs = child["metadata"].get("ownerReferences", [])
            assert [(r["uid"], r["controller"], r["blockOwnerDeletion"]) for r in refs] == [
                (owner["metadata"]["uid"], True, True)
            ], child["metadata"]["name"]

    # --- emulator only -------------------------------------------------------------------

    def inject(self, *faults: Fault) -> None:
        self.server.call(lambda: self.server.emulator.faults.extend(faults))

    def drop_watches(self) -> None:
        self.server.call(self.server.emulator.drop_watches)

    def writes(self) -> list[str]:
        """Every write request served so far: method and path."""

        def collect() -> list[str]:
            return [
                f"{request.method.value} {request.url.path}"
                for request in self.server.emulator.requests
                if request.method in ("POST", "PUT", "PATCH", "DELETE")
            ]

        return self.server.call(collect)

    def objects(self, plural: str) -> list[Obj]:
        return self.server.call(lambda: self.server.emulator.objects(plural))
