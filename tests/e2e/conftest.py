"""Fixtures for the scenarios against a real cluster: skipped, saying why, when there is none.

The operator runs as users start it, `modelship operator`, from this checkout,
watching only each test's own namespace; the CRDs from crds/ are installed
when missing. The Triton pods must be able to start for Ready to come (kind:
hack/kind-up.sh loads the images).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.harness import ROOT, OperatorProcess
from support.scenarios import Obj, get, list_all, wait_for

# Pods pull images and fetch models here: give them time.
AVAILABLE_SECONDS = 300.0


def _reachable_client() -> tuple[Any, str | None]:
    if not os.environ.get("KUBECONFIG"):
        return None, "KUBECONFIG is not set: no real cluster to run the e2e scenarios against"
    try:
        from lightkube import Client
        from lightkube.resources.core_v1 import Namespace

        client = Client()
        client.get(Namespace, "default")
    except Exception as error:
        return None, f"the cluster in KUBECONFIG is not reachable: {error}"
    return client, None


class RealCluster:
    """The Cluster of the scenarios over a real API server, where real controllers act."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def make_available(self, deployment: Obj) -> None:
        meta = deployment["metadata"]

        def available() -> bool:
            live = get(self, "apps/v1", "Deployment", meta["namespace"], meta["name"]) or {}
            wanted = live.get("spec", {}).get("replicas", 1)
            return bool((live.get("status") or {}).get("availableReplicas", 0) >= wanted)

        wait_for(f"Deployment {meta['name']} to become available", available, AVAILABLE_SECONDS)

    def stick_pod(self, deployment: Obj, container: str, reason: str, message: str) -> None:
        meta = deployment["metadata"]
        selector = deployment["spec"]["selector"]["matchLabels"]

        def waiting() -> bool:
            for pod in list_all(self, "v1", "Pod", meta["namespace"]):
                if not selector.items() <= pod["metadata"].get("labels", {}).items():
                    continue
                status = pod.get("status") or {}
                for found in status.get("initContainerStatuses", []) + status.get(
                    "containerStatuses", []
                ):
                    said = ((found.get("state") or {}).get("waiting")) or {}
                    if found["name"] == container and said.get("reason") == reason:
                        assert message in said.get("message", ""), said
                        return True
            return False

        wait_for(f"a pod of {meta['name']} to wait with {reason}", waiting, AVAILABLE_SECONDS)

    def assert_collected(self, owner: Obj, children: list[Obj]) -> None:
        for child in children:
            meta = child["metadata"]
            wait_for(
                f"the garbage collector to remove {child['kind']} {meta['name']}",
                lambda c=child, m=meta: (
                    get(self, c["apiVersion"], c["kind"], m["namespace"], m["name"]) is None
                ),
            )


@pytest.fixture(scope="session")
def real_client() -> Any:
    client, reason = _reachable_client()
    if client is None:
        pytest.skip(reason or "no cluster")
    from lightkube.codecs import from_dict
    from lightkube.resources.apiextensions_v1 import CustomResourceDefinition

    for path in sorted((ROOT / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        try:
            client.get(CustomResourceDefinition, crd["metadata"]["name"])
        except Exception:
            client.create(from_dict(crd))
    return client


@pytest.fixture
def namespace(real_client: Any) -> Iterator[str]:
    from lightkube.resources.core_v1 import Namespace

    name = f"modelship-e2e-{uuid.uuid4().hex[:6]}"
    real_client.create(Namespace.from_dict({"metadata": {"name": name}}))
    yield name
    real_client.delete(Namespace, name)


@pytest.fixture
def cluster(real_client: Any, namespace: str, tmp_path: Path) -> Iterator[RealCluster]:
    operator = OperatorProcess(Path(os.environ["KUBECONFIG"]), tmp_path / "operator.log")
    operator.start(namespaces=[namespace])
    try:
        yield RealCluster(real_client)
    finally:
        operator.stop()
