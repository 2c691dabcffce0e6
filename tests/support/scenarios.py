"""Operator scenarios written against the Kubernetes API contract only.

Each scenario takes a `Cluster` and a namespace of its own. The same functions
run against the emulated API server (tests/integration/operator) and against
a real cluster (tests/e2e); where the two differ (a real Deployment controller
makes pods available, a real garbage collector removes children), the Cluster
implementation says how, not the scenario.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from lightkube import ApiError, Client
from lightkube.core.resource_registry import resource_registry
from lightkube.generic_resource import create_namespaced_resource
from lightkube.types import PatchType
from modelship.core.names import TRIGGER

from support.custom_resources import model_deployment_body, model_following_body, retrain_job_body

MD_API = "modelship.dev/v1alpha1"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"  # the Job controller's, on its pods
for _kind, _plural in (("ModelDeployment", "modeldeployments"), ("RetrainJob", "retrainjobs")):
    create_namespaced_resource("modelship.dev", "v1alpha1", _kind, _plural)

T = TypeVar("T")
Obj = dict[str, Any]
WAIT_SECONDS = 60.0


class Cluster(Protocol):
    """What a scenario may do to a cluster."""

    client: Client

    def make_available(self, deployment: Obj) -> None:
        """Bring the Deployment's pods up (a real controller does it; the emulator is told)."""

    def stick_pod(self, deployment: Obj, container: str, reason: str, message: str) -> None:
        """A pod of the Deployment waits in `container` for `reason` (a real kubelet reports
        it by itself; the emulator is told)."""

    def assert_collected(self, owner: Obj, children: list[Obj]) -> None:
        """The children of a deleted owner are (or will be) garbage-collected."""


Scenario = Callable[["Cluster", str], None]


# --- API helpers -----------------------------------------------------------------------


def get(cluster: Cluster, api_version: str, kind: str, ns: str, name: str) -> Obj | None:
    try:
        found = cluster.client.get(resource_registry.load(api_version, kind), name, namespace=ns)
    except ApiError as error:
        if error.status.code == 404:
            return None
        raise
    return dict(found.to_dict())


def list_owned(cluster: Cluster, api_version: str, kind: str, ns: str, owner: str) -> list[Obj]:
    """Objects carrying the label of a ModelDeployment's children."""
    resource = resource_registry.load(api_version, kind)
    found = cluster.client.list(resource, namespace=ns, labels={"modelship.dev/deployment": owner})
    return sorted((dict(obj.to_dict()) for obj in found), key=lambda o: o["metadata"]["name"])


def list_all(cluster: Cluster, api_version: str, kind: str, ns: str) -> list[Obj]:
    found = cluster.client.list(resource_registry.load(api_version, kind), namespace=ns)
    return [dict(obj.to_dict()) for obj in found]


def patch(
    cluster: Cluster,
    api_version: str,
    kind: str,
    ns: str,
    name: str,
    body: Obj,
    status: bool = False,
) -> Obj:
    resource = resource_registry.load(api_version, kind)
    target = resource.Status if status else resource
    patched = cluster.client.patch(target, name, body, namespace=ns, patch_type=PatchType.MERGE)
    return dict(patched.to_dict())


def delete(cluster: Cluster, api_version: str, kind: str, ns: str, name: str) -> None:
    cluster.client.delete(resource_registry.load(api_version, kind), name, namespace=ns)


def create(cluster: Cluster, manifest: Obj) -> Obj:
    from lightkube.codecs import from_dict

    return dict(cluster.client.create(from_dict(manifest)).to_dict())


def model_deployment(name: str, ns: str, version: str = "1", **spec: Any) -> Obj:
    """A ModelDeployment of the `wine` model, version `version`."""
    return model_deployment_body(name, ns, model="wine", version=version, **spec)


def retrain_job(name: str, ns: str) -> Obj:
    """A run-once RetrainJob of the `wine` ModelDeployment."""
    return retrain_job_body(name, ns, model_deployment="wine", metric="accuracy")


def status_of(cluster: Cluster, kind: str, ns: str, name: str) -> Obj:
    """The status of ModelDeployment or RetrainJob ``name``; {} while it has none."""
    return dict((get(cluster, MD_API, kind, ns, name) or {}).get("status") or {})


def drift_retrain_job(name: str, ns: str, **drift: Any) -> Obj:
    """A RetrainJob of the `wine` ModelDeployment that drift starts (``drift``: its
    triggers.drift), on a weekly schedule that does not come during a test."""
    return retrain_job_body(name, ns, schedule="0 3 * * 0", triggers={"drift": drift})


def drift_runs(cluster: Cluster, ns: str) -> list[Obj]:
    """The Jobs of the RetrainJob runs that drift started."""
    jobs = list_all(cluster, "batch/v1", "Job", ns)
    return [j for j in jobs if j["metadata"]["labels"].get(TRIGGER) == "drift"]


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = WAIT_SECONDS) -> T:
    """Poll until `probe` returns something truthy; fail naming what never happened."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def condition(obj: Obj | None, type_: str) -> Obj:
    for item in ((obj or {}).get("status") or {}).get("conditions", []):
        if item["type"] == type_:
            return dict(item)
    return {}


def md_with(cluster: Cluster, ns: str, name: str, type_: str, status: str, reason: str = "") -> Obj:
    """Wait until the ModelDeployment's condition says so; returns the ModelDeployment."""

    def probe() -> Obj | None:
        md = get(cluster, MD_API, "ModelDeployment", ns, name)
        found = condition(md, type_)
        if found.get("status") == status and (not reason or found.get("reason") == reason):
            return md
        return None

    return wait_for(f"{name}: {type_}={status} {reason}".strip(), probe)


def deployments(cluster: Cluster, ns: str, owner: str) -> list[Obj]:
    return list_owned(cluster, "apps/v1", "Deployment", ns, owner)


def new_revision(cluster: Cluster, ns: str, owner: str, old: str) -> Obj:
    """Wait for the Deployment of a revision of `owner` other than the one named `old`."""
    return wait_for(
        f"a new revision Deployment of {owner}",
        lambda: next(
            (d for d in deployments(cluster, ns, owner) if d["metadata"]["name"] != old), None
        ),
    )


def job_pod_ended(cluster: Cluster, job: Obj, terminated: Obj) -> None:
    """Play the Job controller and the kubelet: pod `<job>-x1` of `job`, its template's labels
    and spec, whose first container ended in the ``terminated`` state."""
    meta, template = job["metadata"], job["spec"]["template"]
    pod, container = f"{meta['name']}-x1", template["spec"]["containers"][0]
    labels = {**template["metadata"].get("labels", {}), JOB_NAME_LABEL: meta["name"]}
    metadata = {"name": pod, "namespace": meta["namespace"], "labels": labels}
    create(
        cluster, {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]}
    )
    ended = {"name": container["name"], "image": container["image"], "imageID": "",
             "ready": False, "restartCount": 0, "state": {"terminated": terminated}}  # fmt: skip
    status = {"status": {"containerStatuses": [ended]}}
    patch(cluster, "v1", "Pod", meta["namespace"], pod, status, True)


def children(cluster: Cluster, ns: str, owner: str) -> dict[str, list[str]]:
    kinds = (
        ("apps/v1", "Deployment"),
        ("v1", "Service"),
        ("policy/v1", "PodDisruptionBudget"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("batch/v1", "CronJob"),
    )
    return {
        kind: [obj["metadata"]["name"] for obj in list_owned(cluster, api, kind, ns, owner)]
        for api, kind in kinds
    }


def created_model_deployment(cluster: Cluster, ns: str, name: str, **spec: Any) -> Obj:
    """Create a ModelDeployment; its first revision's Deployment once the operator made it."""
    create(cluster, model_deployment(name, ns, **spec))
    return wait_for("the revision Deployment", lambda: deployments(cluster, ns, name))[0]


def ready_model_deployment(cluster: Cluster, ns: str, name: str, **spec: Any) -> Obj:
    """Create a ModelDeployment and bring it to Ready."""
    cluster.make_available(created_model_deployment(cluster, ns, name, **spec))
    return md_with(cluster, ns, name, "Ready", "True", "Serving")


def owned_by(obj: Obj, owner: Obj) -> bool:
    return any(
        ref["uid"] == owner["metadata"]["uid"] and ref.get("controller")
        for ref in obj["metadata"].get("ownerReferences", [])
    )


# --- scenarios ------------------------------------------------------------------------------


def create_gives_children_and_ready(cluster: Cluster, ns: str) -> None:
    deployment = created_model_deployment(cluster, ns, "wine")
    revision = deployment["metadata"]["name"]
    wait_for(
        "the Services and the PodDisruptionBudget",
        lambda: (
            children(cluster, ns, "wine")
            == {
                "Deployment": [revision],
                "Service": sorted(["wine", revision]),
                "PodDisruptionBudget": ["wine"],
                "HorizontalPodAutoscaler": [],
                "CronJob": [],
            }
        ),
    )
    first = wait_for(
        "a first status",
        lambda: condition(get(cluster, MD_API, "ModelDeployment", ns, "wine"), "Ready"),
    )
    if first["status"] == "False":  # a real cluster may have started the pods already
        assert first["reason"] == "WaitingForReplicas"

    cluster.make_available(deployment)
    md = md_with(cluster, ns, "wine", "Ready", "True", "Serving")
    status = md["status"]
    assert status["observedGeneration"] == md["metadata"]["generation"]
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Ready": "True",
        "Available": "True",
        "Progressing": "False",
        "Degraded": "False",
    }
    assert status["stable"] == {
        "name": revision,
        "version": "1",
        "uri": "s3://models/wine/1",
        "replicas": 1,
        "readyReplicas": 1,
    }
    assert status["endpoints"] == {
        "http": f"http://wine.{ns}.svc:8000",
        "grpc": f"wine.{ns}.svc:8001",
    }
    assert [(h["revision"], h["outcome"]) for h in status["history"]] == [(revision, "Serving")]
    said = wait_for(
        "Events of what the operator did",
        lambda: (
            {
                (e["reason"], e["message"])
                for e in list_all(cluster, "v1", "Event", ns)
                if e["involvedObject"]["name"] == "wine"
            }
            >= {
                ("Created", f"Created Deployment {ns}/{revision}"),
                ("Created", f"Created Service {ns}/wine"),
                ("Serving", f"Revision {revision} serves model version 1 on 1 of 1 pods."),
            }
        ),
    )
    assert said
    for kind, names in children(cluster, ns, "wine").items():
        for name in names:
            api = {"Deployment": "apps/v1", "Service": "v1", "PodDisruptionBudget": "policy/v1"}
            child = get(cluster, api[kind], kind, ns, name)
            assert child is not None
            assert owned_by(child, md), f"{kind} {name} lacks its owner"


def version_change_makes_new_revision(cluster: Cluster, ns: str) -> None:
    ready_model_deployment(cluster, ns, "wine")
    old = deployments(cluster, ns, "wine")[0]["metadata"]["name"]
    patch(cluster, MD_API, "ModelDeployment", ns, "wine", {"spec": {"model": {
        "version": "2", "uri": "s3://models/wine/2"}}})  # fmt: skip

    both = wait_for("a second revision", lambda: len(deployments(cluster, ns, "wine")) == 2)
    assert both
    new = next(d for d in deployments(cluster, ns, "wine") if d["metadata"]["name"] != old)
    rolling = md_with(cluster, ns, "wine", "Ready", "False", "RollingOut")
    assert rolling["status"]["stable"]["name"] == old, "the old revision serves meanwhile"
    assert rolling["status"]["canary"]["name"] == new["metadata"]["name"]
    client_service = get(cluster, "v1", "Service", ns, "wine")
    assert client_service is not None
    assert client_service["spec"]["selector"]["modelship.dev/revision"] == old

    cluster.make_available(new)
    md = md_with(cluster, ns, "wine", "Ready", "True", "Serving")
    assert md["status"]["stable"]["name"] == new["metadata"]["name"]
    assert md["status"]["stable"]["version"] == "2"
    assert "canary" not in md["status"]
    assert [(h["version"], h["outcome"]) for h in md["status"]["history"]] == [
        ("2", "Serving"),
        ("1", "Superseded"),
    ]
    wait_for(
        "the old revision to be retired",
        lambda: (
            [d["metadata"]["name"] for d in deployments(cluster, ns, "wine")]
            == [new["metadata"]["name"]]
        ),
    )
    selector = wait_for(
        "the client Service to select the new revision",
        lambda: (
            (get(cluster, "v1", "Service", ns, "wine") or {})["spec"]["selector"].get(
                "modelship.dev/revision"
            )
            == new["metadata"]["name"]
        ),
    )
    assert selector


def scale_and_resources_patch_in_place(cluster: Cluster, ns: str) -> None:
    ready_model_deployment(cluster, ns, "wine")
    before = deployments(cluster, ns, "wine")[0]
    resources = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}
    patch(cluster, MD_API, "ModelDeployment", ns, "wine", {"spec": {"serving": {
        "replicas": 3, "resources": resources}}})  # fmt: skip

    def patched() -> Obj | None:
        found = deployments(cluster, ns, "wine")
        if len(found) == 1 and found[0]["spec"]["replicas"] == 3:
            return found[0]
        return None

    after = wait_for("the Deployment patched to 3 replicas", patched)
    assert after["metadata"]["uid"] == before["metadata"]["uid"], "patched, not replaced"
    triton = next(
        c for c in after["spec"]["template"]["spec"]["containers"] if c["name"] == "triton"
    )
    assert triton["resources"] == resources
    md = get(cluster, MD_API, "ModelDeployment", ns, "wine")
    assert md is not None
    assert md["status"]["stable"]["name"] == before["metadata"]["name"]


def hand_edits_are_repaired(cluster: Cluster, ns: str) -> None:
    ready_model_deployment(cluster, ns, "wine")
    deployment = deployments(cluster, ns, "wine")[0]
    name = deployment["metadata"]["name"]
    service = get(cluster, "v1", "Service", ns, name)
    assert service is not None
    bystander = create(
        cluster,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "bystander",
                "namespace": ns,
                "labels": {"modelship.dev/deployment": "wine"},
            },
            "spec": {"ports": [{"port": 80}], "selector": {"app": "other"}},
        },
    )

    delete(cluster, "v1", "Service", ns, name)
    patch(cluster, "apps/v1", "Deployment", ns, name, {"spec": {"replicas": 5}})
    recreated = wait_for(
        "the deleted revision Service to be recreated",
        lambda: (
            (found := get(cluster, "v1", "Service", ns, name))
            and found["metadata"]["uid"] != service["metadata"]["uid"]
            and found
        ),
    )
    assert recreated["spec"]["selector"] == service["spec"]["selector"]
    wait_for(
        "the hand-edited replicas to be restored",
        lambda: (get(cluster, "apps/v1", "Deployment", ns, name) or {})["spec"]["replicas"] == 1,
    )
    untouched = get(cluster, "v1", "Service", ns, "bystander")
    assert untouched is not None, "an object the operator does not own is never deleted"
    assert untouched["metadata"]["resourceVersion"] == bystander["metadata"]["resourceVersion"]


def version_with_missing_secret(cluster: Cluster, ns: str) -> tuple[Obj, Obj]:
    """`wine` serves v1; v2 names the credentials Secret missing-store, which does not exist,
    so the new revision's fetch container cannot start, as the kubelet reports on its pod.
    Returns the old and the new revision's Deployments."""
    ready_model_deployment(cluster, ns, "wine")
    (old,) = deployments(cluster, ns, "wine")
    model = {"version": "2", "uri": "s3://models/wine/2", "credentialsSecret": "missing-store"}
    patch(cluster, MD_API, "ModelDeployment", ns, "wine", {"spec": {"model": model}})
    new = new_revision(cluster, ns, "wine", old["metadata"]["name"])
    cluster.stick_pod(
        new, "fetch", "CreateContainerConfigError", 'secret "missing-store" not found'
    )
    return old, new


def create_missing_secret(cluster: Cluster, ns: str) -> None:
    """The Secret version_with_missing_secret lacks."""
    create(cluster, {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                     "metadata": {"name": "missing-store", "namespace": ns},
                     "stringData": {"AWS_ACCESS_KEY_ID": "e2e"}})  # fmt: skip


def missing_secret_is_reported_from_the_pods(cluster: Cluster, ns: str) -> None:
    """A new version whose credentials Secret is missing: the kubelet says so on its pod, the
    ModelDeployment reports it, and the old revision serves, untouched, until it is created."""
    old, new = version_with_missing_secret(cluster, ns)
    name = old["metadata"]["name"]
    assert new["spec"]["template"]["spec"]["initContainers"][0]["envFrom"] == [
        {"secretRef": {"name": "missing-store"}}
    ]

    md = md_with(cluster, ns, "wine", "Degraded", "True", "SecretNotFound")
    assert {c["type"]: (c["status"], c["reason"]) for c in md["status"]["conditions"]} == {
        "Ready": ("True", "Serving"),
        "Available": ("True", "MinimumReplicasAvailable"),
        "Progressing": ("False", "SecretNotFound"),
        "Degraded": ("True", "SecretNotFound"),
    }
    message = condition(md, "Degraded")["message"]
    assert f'Secret "missing-store" does not exist in namespace {ns}' in message
    assert "spec.model.credentialsSecret" in message
    assert md["status"]["stable"]["name"] == name
    serving = get(cluster, "apps/v1", "Deployment", ns, name)
    assert serving is not None, "the serving revision stays"
    assert (serving["metadata"]["generation"], serving["spec"]) == (
        old["metadata"]["generation"],
        old["spec"],
    ), "the serving revision is left as it was"

    create_missing_secret(cluster, ns)
    cluster.make_available(new)

    def promoted() -> Obj | None:
        md = get(cluster, MD_API, "ModelDeployment", ns, "wine") or {}
        stable = (md.get("status") or {}).get("stable") or {}
        healthy = condition(md, "Degraded").get("status") == "False"
        return md if healthy and stable.get("name") == new["metadata"]["name"] else None

    md = wait_for("the new revision to serve once the Secret exists", promoted)
    assert condition(md, "Ready")["status"] == "True"


def deletion_leaves_only_owned_children(cluster: Cluster, ns: str) -> None:
    md = ready_model_deployment(cluster, ns, "wine")
    owned = [
        obj
        for api, kind in (
            ("apps/v1", "Deployment"),
            ("v1", "Service"),
            ("policy/v1", "PodDisruptionBudget"),
        )
        for obj in list_owned(cluster, api, kind, ns, "wine")
    ]
    assert len(owned) == 4
    delete(cluster, MD_API, "ModelDeployment", ns, "wine")
    wait_for(
        "the ModelDeployment to be gone (finalizer released)",
        lambda: get(cluster, MD_API, "ModelDeployment", ns, "wine") is None,
    )
    cluster.assert_collected(md, owned)


def invalid_spec_is_reported_and_touches_nothing(cluster: Cluster, ns: str) -> None:
    """A spec the CRD would refuse (the emulator does not validate it) gets past it."""
    ready_model_deployment(cluster, ns, "wine")
    before = deployments(cluster, ns, "wine")
    patch(cluster, MD_API, "ModelDeployment", ns, "wine", {"spec": {"autoscaling": {
        "minReplicas": 5, "maxReplicas": 2}}})  # fmt: skip
    md = md_with(cluster, ns, "wine", "Ready", "False", "InvalidSpec")
    assert condition(md, "Ready")["message"].startswith(
        "Invalid spec: spec.autoscaling: minReplicas must not exceed maxReplicas (5 > 2)."
    )
    assert condition(md, "Degraded")["status"] == "True"
    assert deployments(cluster, ns, "wine") == before
    assert children(cluster, ns, "wine")["HorizontalPodAutoscaler"] == []


def model_from_retrain_job(cluster: Cluster, ns: str) -> None:
    """A ModelDeployment following a RetrainJob waits for its promoted model, then serves it."""
    create(cluster, model_following_body("wine", ns, "retrain"))
    md = md_with(cluster, ns, "wine", "Ready", "False", "ModelUnresolved")
    assert condition(md, "Ready")["message"] == 'RetrainJob "retrain" is not known.'
    retrain = create(cluster, retrain_job("retrain", ns))
    job = wait_for(
        "the RetrainJob's run Job",
        lambda: get(cluster, "batch/v1", "Job", ns, "retrain-run"),
    )
    assert owned_by(job, retrain)
    md_with(cluster, ns, "wine", "Ready", "False", "ModelUnresolved")
    assert deployments(cluster, ns, "wine") == []

    promoted = {"version": "7", "uri": "s3://models/wine/retrain-run"}
    patch(cluster, MD_API, "RetrainJob", ns, "retrain", {"status": {"promoted": promoted}}, True)
    deployment = wait_for("the promoted revision", lambda: deployments(cluster, ns, "wine"))[0]
    assert deployment["metadata"]["labels"]["modelship.dev/model-version"] == "7"
