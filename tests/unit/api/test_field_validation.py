"""The CRD schema and the pydantic types accept and refuse the same field values.

Both come from one set of types, but they are checked by different engines
(the API server's OpenAPI validation, pydantic's Rust validators), so
patterns, bounds, enums and unknown fields are tried on both with one table
of edits to a valid ModelDeployment and RetrainJob.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import pydantic
import pytest
from modelship.api import ModelDeployment, RetrainJob
from modelship.api.base import ApiModel
from support.custom_resources import model_deployment_body, retrain_job_body

if TYPE_CHECKING:
    from conftest import OfflineApiServer

BASES: dict[str, tuple[type[ApiModel], dict[str, Any]]] = {
    "ModelDeployment": (ModelDeployment, model_deployment_body("fraud", None, version="3")),
    "RetrainJob": (
        RetrainJob,
        retrain_job_body("fraud-nightly", None, model_deployment="fraud"),
    ),
}

MD = "ModelDeployment"
RTJ = "RetrainJob"


def _batch_job(**changes: Any) -> dict[str, Any]:
    """A nightly batch job of a ModelDeployment, with `changes` to its fields."""
    job = {
        "name": "nightly",
        "schedule": "@daily",
        "input": {"uri": "s3://in/x.csv"},
        "output": {"uri": "s3://out/{date}.csv"},
    }
    return job | changes


def _gateway_traffic(parent: dict[str, Any]) -> dict[str, Any]:
    """A canary routed by Gateway API through gateway `gw`, with `parent`'s fields on its ref."""
    return {"traffic": {"router": "gatewayAPI", "parentRefs": [{"name": "gw", **parent}]}}


# (kind, path below spec, value, accepted)
EDITS: list[tuple[str, str, Any, bool]] = [
    (MD, "serving.resources.limits.memory", "4Gi", True),
    (MD, "serving.resources.requests.cpu", 2, True),
    (MD, "serving.resources.requests.cpu", ".5", True),
    (MD, "serving.resources.requests.cpu", "1.2.3", False),
    (MD, "serving.resources.requests.memory", "5mi", False),
    (MD, "serving.resources.requests.cpu", 0.5, False),
    (MD, "serving.gpu.count", 17, False),
    (MD, "serving.gpu.count", 1, True),
    (MD, "serving.tolerations", [{"key": "gpu", "operator": "Exists"}], True),
    (MD, "serving.tolerations", [{"key": "gpu", "operator": "Maybe"}], False),
    (MD, "serving.affinity", {"nodeAffinity": {"anything": ["goes"]}}, True),
    (MD, "serving.replicas", -1, False),
    (MD, "serving.colour", "blue", False),
    (MD, "model.uri", "ftp://models/fraud/3", False),
    (MD, "model.uri", "pvc://models/fraud/3", True),
    (MD, "model.sha256", "a" * 64, True),
    (MD, "model.sha256", "A" * 64, False),
    (MD, "model.name", "Fraud", False),
    (MD, "model.format", "pickle", False),
    (MD, "model.credentialsSecret", "s3.credentials", True),
    (MD, "model.credentialsSecret", "S3_CREDENTIALS", False),
    (MD, "rollout.canary", {"steps": [{"weight": 0}]}, False),
    (MD, "rollout.canary", {"steps": [{"weight": 20, "pause": "1h30m"}]}, True),
    (MD, "rollout.canary", {"steps": [{"weight": 20, "pause": "90 seconds"}]}, False),
    (MD, "rollout.canary", {"steps": [{"weight": n} for n in range(1, 22)]}, False),
    (MD, "rollout.canary", {"analysis": {"maxFailureRateIncrease": 1.5}}, False),
    (MD, "autoscaling", {"maxReplicas": 2, "metrics": []}, False),
    (MD, "monitoring.drift", {"threshold": 0}, False),
    (MD, "monitoring.drift", {"threshold": 0.1, "window": "7d"}, False),
    (MD, "batch", [_batch_job(name="n" * 41)], False),
    (MD, "batch", [_batch_job(schedule="0 2 * * *")], True),
    (MD, "batch", [_batch_job(schedule="every night")], False),
    # Values a real API server, kubelet or Gateway refuses are refused here first.
    (MD, "serving.replicas", 2**31 - 1, True),
    (MD, "serving.replicas", 2**31, False),
    (MD, "autoscaling", {"maxReplicas": 2**31}, False),
    (MD, "autoscaling", {"maxReplicas": 2, "metrics": [{"type": "cpu", "target": 2**31}]}, False),
    (MD, "serving.resources.requests.cpu", "-1", False),
    (MD, "serving.resources.requests.cpu", -1, False),
    (MD, "serving.resources.requests.cpu", "+1", True),
    (MD, "serving.resources.limits.memory", "1" * 65, False),
    (MD, "serving.resources.requests", {f"vendor.example/r{n}": 1 for n in range(17)}, False),
    (MD, "serving.image", "", False),
    (MD, "serving.image", "triton :24", False),
    (MD, "serving.image", "registry.example.com/triton@sha256:" + "a" * 64, True),
    (MD, "serving.image", "r/" + "i" * 1023, False),
    (MD, "serving.gpu.count", 0, False),
    (MD, "serving.gpu", {"count": 1, "product": "NVIDIA H100"}, False),
    (MD, "serving.instanceCount", 65, False),
    (MD, "serving.args", ["--log-verbose=1"] * 65, False),
    (MD, "serving.dynamicBatching", {"preferredBatchSizes": [0]}, False),
    (MD, "serving.dynamicBatching", {"preferredBatchSizes": [8, -4]}, False),
    (MD, "serving.dynamicBatching", {"preferredBatchSizes": [2**31]}, False),
    (MD, "serving.dynamicBatching", {"preferredBatchSizes": [16, 8, 8]}, True),
    (MD, "serving.dynamicBatching", {"preferredBatchSizes": list(range(1, 18))}, False),
    (MD, "serving.nodeSelector", {"pool": "gpu nodes"}, False),
    (MD, "serving.nodeSelector", {f"k{n}": "v" for n in range(33)}, False),
    (MD, "serving.tolerations", [{"key": "gpu", "value": "v" * 64}], False),
    (MD, "serving.tolerations", [{"key": "bad key", "operator": "Exists"}], False),
    (MD, "serving.tolerations", [{"key": "gpu", "operator": "Exists"}] * 33, False),
    (MD, "model.uri", "pvc:///x", False),
    (MD, "model.uri", "pvc://Models/x", False),
    (MD, "model.uri", "pvc://models.team-a/fraud/3", True),
    (MD, "model.uri", "pvc://models", True),
    # Nothing secret in a stored, shown and copied uri: no user info, query or fragment.
    (MD, "model.uri", "https://models.example.com/fraud/3.tar.gz", True),
    (MD, "model.uri", "https://b.s3.amazonaws.com/m.tar.gz?X-Amz-Signature=ab", False),
    (MD, "model.uri", "https://user:pw@models.example.com/m.tar.gz", False),
    (MD, "model.uri", "s3://models/fraud/3#v2", False),
    (MD, "model.uri", "pvc://models/fraud?x=1", False),
    (MD, "model.uri", "file:///srv/models/fraud", True),
    (MD, "model.uri", "s3://", False),
    (MD, "model.uri", "az://models/fraud/3.tar.gz", True),
    (MD, "model.uri", "az://", False),
    (
        MD,
        "batch",
        [_batch_job(input={"uri": "az://lake/in/"}, output={"uri": "az://o/{run}/"})],
        True,
    ),
    (MD, "model.lineage", {"dataUri": "lakefs://lake/main/fraud/2024-06"}, True),
    (MD, "model.lineage", {"dataUri": "https://lake.example.com/d.csv?sig=ab"}, False),
    (MD, "model.lineage", {"dataUri": "s3://key:secret@data/fraud/"}, False),
    (MD, "autoscaling", {"maxReplicas": 2, "prometheusUrl": "http://prometheus:9090"}, True),
    (MD, "autoscaling", {"maxReplicas": 2, "prometheusUrl": "http://a:pw@prometheus:9090"}, False),
    (MD, "model.uri", "s3://models/" + "x" * 2048, False),
    (MD, "rollout.canary", {"steps": [{"weight": 20, "pause": "1" * 32 + "s"}]}, False),
    (MD, "rollout.canary", _gateway_traffic({"sectionName": "Web_1"}), False),
    (MD, "rollout.canary", _gateway_traffic({"namespace": "In.fra"}), False),
    (MD, "rollout.canary", _gateway_traffic({"port": 0}), False),
    (MD, "rollout.canary", _gateway_traffic({"sectionName": "web.public", "port": 443}), True),
    (MD, "monitoring.drift", {"reference": "ftp://profiles/x.json"}, False),
    (MD, "batch", [_batch_job(name=f"job{n}") for n in range(33)], False),
    (MD, "batch", [_batch_job(input={"uri": "pvc:///x.csv"})], False),
    (RTJ, "template.image", "", False),
    (RTJ, "template.image", " trainer:1", False),
    (RTJ, "data.uri", "pvc:///data", False),
    (RTJ, "output.uri", "file:///models/{run}", True),
    (RTJ, "output.uri", "pvc://models/{run}", False),  # not mounted for trainers: refused
    (RTJ, "output.uri", "az://models/{run}", True),
    (RTJ, "activeDeadlineSeconds", 2**31, False),
    (RTJ, "template.command", ["python"] * 65, False),
    (RTJ, "schedule", "@weekly", True),
    (RTJ, "schedule", "0 3 * *", False),
    # Out of bounds: the API server would refuse the CronJob the operator then creates.
    (RTJ, "schedule", "61 * * * *", False),
    (RTJ, "schedule", "0 24 * * *", False),
    (RTJ, "schedule", "0 3 0 * *", False),
    (RTJ, "schedule", "0 3 * 13 *", False),
    (RTJ, "schedule", "0 3 * * 8", False),
    (RTJ, "schedule", "*/0 * * * *", False),
    (RTJ, "schedule", "*/15 0-6,22 1,15 jan-MAR mon-fri", True),
    (RTJ, "schedule", "5/10 23 31 12 7", True),
    (RTJ, "promotion", "Automatic", True),
    (RTJ, "promotion", "automatic", False),
    (RTJ, "backoffLimit", 11, False),
    (RTJ, "output.uri", "https://models/{run}", False),
    (RTJ, "template.serviceAccountName", "trainer", True),
    (RTJ, "template.env", [{"name": "1BAD", "value": "x"}], False),
]


def _edited(kind: str, path: str, value: Any) -> dict[str, Any]:
    document = copy.deepcopy(BASES[kind][1])
    node = document["spec"]
    *parents, leaf = path.split(".")
    for name in parents:
        node = node.setdefault(name, {})
    node[leaf] = value
    if path.startswith("rollout.canary"):  # canary settings count only with strategy Canary
        document["spec"]["rollout"].setdefault("strategy", "Canary")
    return document


@pytest.mark.parametrize(
    ("kind", "path", "value", "accepted"),
    EDITS,
    ids=[f"{path}={value!r:.30}" for _, path, value, _ in EDITS],
)
def test_crd_and_types_agree_on_fields(
    kind: str,
    path: str,
    value: Any,
    accepted: bool,
    kind_schemas: dict[str, Any],
    api_server: OfflineApiServer,
) -> None:
    document = _edited(kind, path, value)
    crd_errors = api_server.errors(kind_schemas[kind], document)
    try:
        BASES[kind][0].model_validate(document)
        types_accept = True
    except pydantic.ValidationError:
        types_accept = False
    assert (not crd_errors, types_accept) == (accepted, accepted), crd_errors
