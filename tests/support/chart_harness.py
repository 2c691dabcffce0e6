"""The operator started as the chart starts it, against the emulated API server.

`helm template` renders the chart; the CRDs it installs (ours, and Kopf's peering CRDs)
are served by the emulator, the objects its post-install hook creates (peering) are
created, and each replica runs `modelship operator` with the rendered container args.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from lightkube.generic_resource import create_global_resource, create_namespaced_resource
from modelship_serving.triton.server import free_port

from support import scenarios
from support.emulator import EmulatorThread
from support.harness import EmulatedCluster, kubeconfig, stop_process, upstream_crds
from support.helm import find_helm

REPO = Path(__file__).resolve().parents[2]
Obj = dict[str, Any]
# The operator and the scenarios authenticate differently, to tell their requests apart.
OPERATOR_TOKEN = "operator"
SCENARIO_TOKEN = "scenarios"

create_global_resource("kopf.dev", "v1", "ClusterKopfPeering", "clusterkopfpeerings")
create_namespaced_resource("kopf.dev", "v1", "KopfPeering", "kopfpeerings")


# The helm binary that renders the chart: `helm` (Helm 4) or `helm3`; conftest.py runs
# every test in this folder with each.
HELM = "helm"


def helm_template(values: Obj, tmp_path: Path) -> list[Obj]:
    binary = find_helm(HELM)
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    command = [binary, "template", "modelship", str(REPO / "charts" / "modelship")]
    command += ["--namespace=modelship-system", "--include-crds", f"--values={values_file}"]
    result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


class ChartStartedOperator:
    """One replica: `modelship operator` with the container's args from the rendered Deployment."""

    def __init__(self, deployment: Obj, kubeconfig_path: Path, log: Path) -> None:
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        # Replicas share this machine, so each listens on free ports instead of the chart's.
        self.ports = {"health": free_port(), "metrics": free_port()}
        flags = {"--liveness-port": "health", "--metrics-port": "metrics"}
        self.args = [
            f"{flag}={self.ports[flags[flag]]}" if (flag := arg.split("=")[0]) in flags else arg
            for arg in container["args"]
        ]
        assert self.args != container["args"], "the chart no longer sets the ports"
        self.kubeconfig_path, self.log = kubeconfig_path, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig_path),
            # The chart listens on 0.0.0.0 in the pod; tests stay on the loopback.
            "MODELSHIP_LIVENESS_ADDRESS": "127.0.0.1",
            "MODELSHIP_METRICS_ADDRESS": "127.0.0.1",
        }
        command = [str(Path(sys.executable).parent / "modelship"), *self.args]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)

    def stop(self, kill: bool = False) -> None:
        if self.process is not None:
            stop_process(self.process, kill)
            self.process = None

    def answers(self, port_name: str, path: str) -> bytes:
        """The body served on one of the container's ports; urlopen raises unless a 2xx."""
        url = f"http://127.0.0.1:{self.ports[port_name]}{path}"
        with urllib.request.urlopen(url, timeout=5) as response:
            body: bytes = response.read()
            return body


@dataclass
class ChartInstall:
    cluster: EmulatedCluster
    replicas: list[ChartStartedOperator]
    rendered: list[Obj]

    def operator_requests(self) -> list[Any]:
        """Every request the replicas made, as kmock logged it."""
        emulator = self.cluster.server.emulator
        return self.cluster.server.call(
            lambda: [
                request
                for request in emulator.requests
                if request.headers.get("Authorization") == f"Bearer {OPERATOR_TOKEN}"
            ]
        )


@contextmanager
def installed(values: Obj, tmp_path: Path, start: bool = True) -> Iterator[ChartInstall]:
    """The chart "installed" with these values: a process per replica, started unless not."""
    rendered = helm_template(values, tmp_path)
    crds = [obj for obj in rendered if obj["kind"] == "CustomResourceDefinition"]
    # The upstream kinds served too, so that the RBAC replay covers the requests on them.
    crds += upstream_crds()
    (deployment,) = [obj for obj in rendered if obj["kind"] == "Deployment"]
    with EmulatorThread(crds) as server:
        operator_config = tmp_path / "kubeconfig"
        operator_config.write_text(json.dumps(kubeconfig(server.url, OPERATOR_TOKEN)))
        replicas = [
            ChartStartedOperator(deployment, operator_config, tmp_path / f"operator-{index}.log")
            for index in range(deployment["spec"]["replicas"])
        ]
        # The scenarios' Cluster wants an operator; replica 0 stands for it.
        scenario_config = kubeconfig(server.url, SCENARIO_TOKEN)
        cluster = EmulatedCluster(server, scenario_config, replicas[0])  # type: ignore[arg-type]
        for hook_object in (obj for obj in rendered if obj["apiVersion"] == "kopf.dev/v1"):
            scenarios.create(cluster, hook_object)
        for replica in replicas if start else []:
            replica.start()
        try:
            yield ChartInstall(cluster, replicas, rendered)
        except BaseException:
            for replica in replicas:
                replica.stop()
                print(f"--- {replica.log.name}\n{replica.log.read_text()[-10000:]}")
            raise
        finally:
            for replica in replicas:
                replica.stop()
