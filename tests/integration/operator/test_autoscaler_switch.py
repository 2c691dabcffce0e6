"""Switching a ModelDeployment's autoscaling engine converges under KEDA's admission webhook.

The emulated API server here replays KEDA's ScaledObject webhook (the checks of
tests/support/keda_webhook.py, against the HPAs, ScaledObjects and
Deployments in its store). KEDA refuses a ScaledObject while an HPA it does not own
targets the same Deployment; an operator that created the ScaledObject before deleting
the HPA was refused on every reconcile and never reached the delete.
"""

from __future__ import annotations

from typing import Any

import pytest
from lightkube import ApiError
from lightkube.generic_resource import create_namespaced_resource
from support import keda_webhook
from support.emulator import KubernetesApiEmulator
from support.harness import EmulatedCluster
from support.scenarios import (
    MD_API,
    Obj,
    create,
    list_owned,
    patch,
    ready_model_deployment,
    wait_for,
)

NS = "ml"
HPA_API, SO_API = "autoscaling/v2", "keda.sh/v1alpha1"
AUTOSCALING: dict[str, Any] = {"maxReplicas": 4, "metrics": [{"type": "cpu", "target": 70}]}
SERVING = {"resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}
create_namespaced_resource("keda.sh", "v1alpha1", "ScaledObject", "scaledobjects")


def keda_admission(operation: str, obj: Obj, emulator: KubernetesApiEmulator) -> str | None:
    """KEDA's webhook for ScaledObjects, reading the cluster state from the emulator's store."""
    if obj.get("kind") != "ScaledObject":
        return None
    namespace = obj["metadata"]["namespace"]
    target_name = obj["spec"]["scaleTargetRef"]["name"]
    target = next(
        (
            d
            for d in emulator.objects("deployments", namespace)
            if d["metadata"]["name"] == target_name
        ),
        None,
    )
    return keda_webhook.refusal(
        obj,
        target,
        hpas=emulator.objects("horizontalpodautoscalers", namespace),
        scaled_objects=emulator.objects("scaledobjects", namespace),
    )


def _owned(cluster: EmulatedCluster, api: str, kind: str) -> list[str]:
    return [obj["metadata"]["name"] for obj in list_owned(cluster, api, kind, NS, "wine")]


@pytest.fixture
def keda(cluster: EmulatedCluster) -> EmulatedCluster:
    cluster.server.call(lambda: cluster.server.emulator.admission.append(keda_admission))
    return cluster


def test_hpa_to_keda_and_back_converges(keda: EmulatedCluster) -> None:
    ready_model_deployment(keda, NS, "wine", serving=SERVING, autoscaling=AUTOSCALING)
    hpa = wait_for(
        "the HPA", lambda: list_owned(keda, HPA_API, "HorizontalPodAutoscaler", NS, "wine")
    )[0]

    # What the old order did first: the ScaledObject beside the live HPA. KEDA refuses it.
    beside = {
        "apiVersion": SO_API,
        "kind": "ScaledObject",
        "metadata": {"name": "by-hand", "namespace": NS},
        "spec": {
            "scaleTargetRef": hpa["spec"]["scaleTargetRef"],
            "minReplicaCount": 1,
            "triggers": [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "70"}}],
        },
    }
    with pytest.raises(ApiError, match="is already managed by the hpa 'wine'"):
        create(keda, beside)

    patch(
        keda, MD_API, "ModelDeployment", NS, "wine", {"spec": {"autoscaling": {"engine": "keda"}}}
    )
    wait_for(
        "the ScaledObject in place of the HPA",
        lambda: (
            _owned(keda, SO_API, "ScaledObject") == ["wine"]
            and _owned(keda, HPA_API, "HorizontalPodAutoscaler") == []
        ),
        timeout=30,  # well within the 60 s a refused write waits before its retry
    )

    patch(keda, MD_API, "ModelDeployment", NS, "wine", {"spec": {"autoscaling": {"engine": "hpa"}}})
    wait_for(
        "the HPA in place of the ScaledObject",
        lambda: (
            _owned(keda, HPA_API, "HorizontalPodAutoscaler") == ["wine"]
            and _owned(keda, SO_API, "ScaledObject") == []
        ),
        timeout=30,
    )


def test_keda_from_the_start_gets_its_scaled_object_once_the_deployment_exists(
    keda: EmulatedCluster,
) -> None:
    keda_scaling = {**AUTOSCALING, "engine": "keda"}
    ready_model_deployment(keda, NS, "wine", serving=SERVING, autoscaling=keda_scaling)
    wait_for("the ScaledObject", lambda: _owned(keda, SO_API, "ScaledObject") == ["wine"])
    assert _owned(keda, HPA_API, "HorizontalPodAutoscaler") == []
