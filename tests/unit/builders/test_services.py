"""Services, compared whole: one per revision, and the client Service that follows the rollout.

Proves: the per-revision Service exposes http, grpc and metrics of its own
pods; the client Service `<deployment>` exposes http and grpc and selects the
stable revision only, except during a canary with the `replicas` router,
where it selects every revision so that traffic splits by pod counts.
"""

from __future__ import annotations

from typing import Any

import pytest
from modelship.builders import RevisionPlan, RolloutPlan, revision_for
from modelship.builders.service import build_client_service, build_revision_service
from support.custom_resources import controller_reference
from support.resolved_models import fraud_model

STABLE = "fraud-1b64e32ff5"
CANARY = "fraud-b7ce7dd1c0"
OWNERS = [controller_reference()]
HTTP = {"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}
GRPC = {"name": "grpc", "port": 8001, "targetPort": "grpc", "protocol": "TCP"}
METRICS = {"name": "metrics", "port": 8002, "targetPort": "metrics", "protocol": "TCP"}
SERVERS = {
    "app.kubernetes.io/instance": "fraud",
    "app.kubernetes.io/component": "server",
    "modelship.dev/deployment": "fraud",
}
COMMON_LABELS = {
    "app.kubernetes.io/name": "triton",
    "app.kubernetes.io/instance": "fraud",
    "app.kubernetes.io/component": "server",
    "app.kubernetes.io/managed-by": "modelship",
    "modelship.dev/deployment": "fraud",
}
CANARY_REPLICAS = {"rollout": {"strategy": "Canary"}}
CANARY_GATEWAY = {
    "rollout": {
        "strategy": "Canary",
        "canary": {"traffic": {"router": "gatewayAPI", "parentRefs": [{"name": "gw"}]}},
    }
}


def test_revision_service(make_deployment: Any) -> None:
    md = make_deployment({})
    assert build_revision_service(md, revision_for(md, fraud_model("3"))) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": STABLE,
            "namespace": "ml",
            "labels": COMMON_LABELS
            | {"modelship.dev/revision": STABLE, "modelship.dev/model-version": "3"},
            "ownerReferences": OWNERS,
        },
        "spec": {
            "type": "ClusterIP",
            "selector": SERVERS | {"modelship.dev/revision": STABLE},
            "ports": [HTTP, GRPC, METRICS],
        },
    }


CLIENT_CASES = [
    pytest.param({}, False, {"modelship.dev/revision": STABLE}, id="recreate-stable-only"),
    pytest.param({}, True, {"modelship.dev/revision": STABLE}, id="recreate-old-kept-until-new"),
    pytest.param(CANARY_REPLICAS, False, {"modelship.dev/revision": STABLE}, id="canary-idle"),
    pytest.param(CANARY_REPLICAS, True, {}, id="canary-replicas-router-selects-all"),
    pytest.param(CANARY_GATEWAY, True, {"modelship.dev/revision": STABLE}, id="gateway-api"),
]


@pytest.mark.parametrize(("spec", "with_canary", "revision_selector"), CLIENT_CASES)
def test_client_service(
    spec: dict[str, Any],
    with_canary: bool,
    revision_selector: dict[str, str],
    make_deployment: Any,
) -> None:
    md = make_deployment(spec)
    stable = RevisionPlan(revision_for(md, fraud_model("3")), replicas=3, weight=90)
    canary = RevisionPlan(revision_for(md, fraud_model("4")), replicas=1, weight=10)
    assert canary.revision.name == CANARY
    plan = RolloutPlan(stable=stable, canary=canary if with_canary else None)
    assert build_client_service(md, plan) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "fraud",
            "namespace": "ml",
            "labels": COMMON_LABELS,
            "ownerReferences": OWNERS,
        },
        "spec": {
            "type": "ClusterIP",
            "selector": SERVERS | revision_selector,
            "ports": [HTTP, GRPC],
        },
    }


def test_a_new_revision_at_weight_zero_gets_no_client_traffic(make_deployment: Any) -> None:
    # The operator starts a new revision at weight 0 beside the serving one; pods that
    # become ready must not take traffic before the rollout gives them a share.
    md = make_deployment(CANARY_REPLICAS)
    stable = RevisionPlan(revision_for(md, fraud_model("3")), replicas=3, weight=100)
    starting = RevisionPlan(revision_for(md, fraud_model("4")), replicas=3, weight=0)
    service = build_client_service(md, RolloutPlan(stable=stable, canary=starting))
    assert service["spec"]["selector"] == SERVERS | {"modelship.dev/revision": STABLE}
