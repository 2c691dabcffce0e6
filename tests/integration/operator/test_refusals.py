"""The API server refuses a child: the real operator says so on the ModelDeployment.

A 422 Invalid on create, and an admission webhook's 403 on an in-place serving change,
each show as Ready=False with the reason ChildRejected and the server's words, a Warning
Event, and an observedGeneration that names the generation refused; the refused write is
not retried in a hot loop, and the revision that serves keeps serving untouched.
"""

from __future__ import annotations

import time

from support.emulator import Fault, KubernetesApiEmulator
from support.harness import RESYNC_SECONDS, EmulatedCluster
from support.scenarios import (
    MD_API,
    Obj,
    condition,
    create,
    deployments,
    list_all,
    md_with,
    model_deployment,
    patch,
    ready_model_deployment,
    wait_for,
)

NS = "ml"


def warnings(cluster: EmulatedCluster, name: str) -> list[tuple[str, str]]:
    return [
        (e["reason"], e["message"])
        for e in list_all(cluster, "v1", "Event", NS)
        if e["involvedObject"]["name"] == name and e.get("type") == "Warning"
    ]


def test_a_deployment_refused_on_create_is_reported_and_backed_off(
    cluster: EmulatedCluster,
) -> None:
    cluster.inject(Fault("POST", "deployments", 422, times=1000))
    create(cluster, model_deployment("wine", NS))

    md = md_with(cluster, NS, "wine", "Ready", "False", "ChildRejected")
    assert md["status"]["observedGeneration"] == md["metadata"]["generation"]
    assert "injected fault 422" in condition(md, "Ready")["message"]
    assert condition(md, "Degraded")["reason"] == "ChildRejected"
    said = wait_for("a Warning Event", lambda: warnings(cluster, "wine"))
    assert said[0][0] == "ChildRejected"

    # Resyncs every second, yet the refused write waits out its back-off (10 s first).
    time.sleep(RESYNC_SECONDS * 5)
    served = cluster.server.call(lambda: cluster.server.emulator.faults[0].served)
    assert served <= 2, f"the refused Deployment was asked for {served} times in 5 s"


def refuse_memory_over_1gi(operation: str, obj: Obj, emulator: KubernetesApiEmulator) -> str | None:
    """A policy on pods' memory, as a ValidatingAdmissionPolicy or Kyverno would hold one."""
    if obj["kind"] != "Deployment" or operation != "UPDATE":
        return None
    for container in obj["spec"]["template"]["spec"]["containers"]:
        if container.get("resources", {}).get("limits", {}).get("memory") == "2Gi":
            return "memory limits above 1Gi are not allowed in namespace ml"
    return None


def test_an_in_place_change_refused_by_admission_keeps_the_old_pods_and_says_so(
    cluster: EmulatedCluster,
) -> None:
    ready_model_deployment(cluster, NS, "wine")
    before = deployments(cluster, NS, "wine")[0]
    cluster.server.call(lambda: cluster.server.emulator.admission.append(refuse_memory_over_1gi))
    patch(cluster, MD_API, "ModelDeployment", NS, "wine", {"spec": {"serving": {
        "resources": {"limits": {"memory": "2Gi"}}}}})  # fmt: skip

    md = md_with(cluster, NS, "wine", "Ready", "False", "ChildRejected")
    assert md["status"]["observedGeneration"] == md["metadata"]["generation"] == 2
    ready = condition(md, "Ready")["message"]
    assert "memory limits above 1Gi are not allowed" in ready
    assert "keeps serving" in ready
    assert condition(md, "Available")["status"] == "True"
    after = deployments(cluster, NS, "wine")
    assert [d["metadata"]["uid"] for d in after] == [before["metadata"]["uid"]]
    assert after[0]["spec"]["template"] == before["spec"]["template"], "the old pods serve on"
    reasons = wait_for("a Warning Event", lambda: warnings(cluster, "wine"))
    assert [reason for reason, _ in reasons] == ["ChildRejected"]


CONFIGURE_SAID = (
    "Error: serving.dynamicBatching.preferredBatchSizes has 128, above the max_batch_size 64 "
    "model 'wine' was packaged with: lower it to at most 64, or repackage with "
    "--max-batch-size 128"
)


def fail_configure(cluster: EmulatedCluster, deployment: Obj) -> None:
    """A pod of the Deployment whose `configure` init container exited 1 with its one line,
    as the kubelet reports it under terminationMessagePolicy FallbackToLogsOnError."""
    meta, template = deployment["metadata"], deployment["spec"]["template"]
    name = f"{meta['name']}-configure"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, **template["metadata"]},
        "spec": template["spec"],
    }
    create(cluster, pod)
    done = {"terminated": {"exitCode": 0, "reason": "Completed"}}
    failed = {"terminated": {"exitCode": 1, "reason": "Error", "message": CONFIGURE_SAID}}
    status = {
        "phase": "Pending",
        "initContainerStatuses": [
            {"name": "fetch", "image": "i", "imageID": "", "ready": False, "restartCount": 0,
             "state": done},
            {"name": "configure", "image": "i", "imageID": "", "ready": False, "restartCount": 1,
             "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": failed},
        ],
    }  # fmt: skip
    patch(cluster, "v1", "Pod", NS, name, {"status": status}, True)


def test_a_batch_size_the_package_cannot_take_shows_as_configure_failed(
    cluster: EmulatedCluster,
) -> None:
    ready_model_deployment(cluster, NS, "wine")
    patch(cluster, MD_API, "ModelDeployment", NS, "wine", {"spec": {"serving": {
        "dynamicBatching": {"preferredBatchSizes": [32, 128]}}}})  # fmt: skip
    deployment = wait_for(
        "the Deployment patched in place",
        lambda: next(
            (
                d
                for d in deployments(cluster, NS, "wine")
                if "128" in d["spec"]["template"]["spec"]["initContainers"][1]["args"]
            ),
            None,
        ),
    )
    configure = deployment["spec"]["template"]["spec"]["initContainers"][1]
    assert configure["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    fail_configure(cluster, deployment)

    md = md_with(cluster, NS, "wine", "Degraded", "True", "ConfigureFailed")
    message = condition(md, "Degraded")["message"]
    assert "128" in message
    assert "max_batch_size 64" in message
    assert condition(md, "Available")["status"] == "True", "the old pod serves on"
