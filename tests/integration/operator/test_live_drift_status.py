"""Drift on mirrored live traffic reaches a ModelDeployment's status, the real operator against
the emulated API server.

The test plays the Deployment controller and the kubelet for the drift-watch Deployment the
operator creates (its pod ready for an hour, at a loopback address standing in for the pod
IP), and the drift-watch pod itself: a server on that address's port 8003 shows what
`modelship drift-watch` shows, modelship_serving's own SnapshotCollector over real counts
of a window of rows (shifted, or drawn like the reference), judged by judge_window.
Proves: a drifted window sets status.drift (source live/<stable revision>), Drifted, one
Warning Event and the modelship_drift_* series with source "live"; with `action: retrain`
and `windows: 2`, the first drifted window starts no run and the second starts one; a pod
whose metrics cannot be read is said so in the condition, and a clean window then clears
nothing it should not (no Warning, no run); a drift-watch pod whose model fetch fails puts
the kubelet's report in Drifted (reason ModelFetchFailed, the fetch's last words), as a
serving pod's would be.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from support.drift_watch_pod import metrics_server, window_metrics
from support.harness import EmulatedCluster
from support.scenarios import (
    MD_API,
    condition,
    create,
    drift_retrain_job,
    drift_runs,
    get,
    model_deployment,
    patch,
    status_of,
    wait_for,
)

NS = "ml"
DRIFT_WATCH = "wine-drift-watch"
METRICS_PORT = 8003
GATEWAY = {
    "strategy": "Canary",
    "canary": {"traffic": {"router": "gatewayAPI", "parentRefs": [{"name": "public"}]}},
}


def mirrored(**drift: Any) -> dict[str, Any]:
    """Drift monitoring of 10% of the traffic, checked every 4 seconds."""
    return {"drift": {"mirrorPercent": 10, "window": "4s", "threshold": 0.2, **drift}}


def stable_revision(cluster: EmulatedCluster) -> str:
    md = wait_for(
        "the stable revision",
        lambda: status_of(cluster, "ModelDeployment", NS, "wine").get("stable", {}).get("name"),
    )
    return str(md)


def drift_watch_deployment(cluster: EmulatedCluster) -> dict[str, Any]:
    return wait_for(
        "the drift-watch Deployment",
        lambda: get(cluster, "apps/v1", "Deployment", NS, DRIFT_WATCH),
    )


def create_drift_watch_pod(cluster: EmulatedCluster, deployment: dict[str, Any]) -> str:
    """The Deployment's pod `<name>-x1`, from its template, as its ReplicaSet would create it."""
    template = deployment["spec"]["template"]
    pod = f"{DRIFT_WATCH}-x1"
    metadata = {"name": pod, "namespace": NS, "labels": template["metadata"]["labels"]}
    create(
        cluster, {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]}
    )
    return pod


def start_drift_watch_pod(cluster: EmulatedCluster, address: str) -> dict[str, Any]:
    """The drift-watch Deployment's pod, ready for an hour at ``address``, and the
    Deployment's status saying so (what its controller and the kubelet would write)."""
    deployment = drift_watch_deployment(cluster)
    # First the Deployment (making it available clears its pods), then its ready pod.
    cluster.make_available(deployment)
    pod = create_drift_watch_pod(cluster, deployment)
    ready_at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    ready = {"type": "Ready", "status": "True", "lastTransitionTime": ready_at}
    status = {"phase": "Running", "podIP": address, "conditions": [ready]}
    patch(cluster, "v1", "Pod", NS, pod, {"status": status}, status=True)
    return deployment


def drifted_condition(cluster: EmulatedCluster) -> dict[str, Any]:
    return condition(get(cluster, MD_API, "ModelDeployment", NS, "wine"), "Drifted")


def drift_of(cluster: EmulatedCluster) -> dict[str, Any]:
    return dict(status_of(cluster, "ModelDeployment", NS, "wine").get("drift") or {})


def test_drifted_live_windows_set_status_drift_and_the_second_starts_a_run(
    cluster: EmulatedCluster,
) -> None:
    metrics = cluster.operator.restart_with_metrics()
    create(cluster, drift_retrain_job("retrain", NS, windows=2, minInterval="1h"))
    monitoring = mirrored(action="retrain", retrainJob="retrain")
    create(cluster, model_deployment("wine", NS, rollout=GATEWAY, monitoring=monitoring))
    stable = stable_revision(cluster)
    deployment = start_drift_watch_pod(cluster, "127.0.0.8")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"][container["args"].index("--revision") + 1] == stable

    shifted = window_metrics(1000, stable, income_shift_in_std=1.0)
    with metrics_server("127.0.0.8", METRICS_PORT, lambda: shifted):
        first = wait_for(
            "the first live check", lambda: (d := drift_of(cluster)).get("consecutive") == 1 and d
        )
        assert first["source"] == f"live/{stable}"
        assert first["drifted"] is True
        assert [f["name"] for f in first["features"] if f["drifted"]] == ["income"]
        md = get(cluster, MD_API, "ModelDeployment", NS, "wine")
        drifted = condition(md, "Drifted")
        assert (drifted["status"], drifted["reason"]) == ("True", "Drifted")
        assert f"live/{stable} (1000 rows, 4 features)" in drifted["message"]

        def first_judged() -> dict[str, Any] | None:
            check = status_of(cluster, "RetrainJob", NS, "retrain").get("driftCheck", {})
            return check if check.get("checkedAt") == first["checkedAt"] else None

        check = wait_for("the RetrainJob to judge the first check", first_judged)
        assert check["started"] is False
        assert drift_runs(cluster, NS) == []

        second = wait_for(
            "the second live check, a window later",
            lambda: (d := drift_of(cluster)).get("consecutive") == 2 and d,
        )
        assert second["checkedAt"] > first["checkedAt"]
        (run,) = wait_for("the drift-triggered run", lambda: drift_runs(cluster, NS))
        [trainer] = run["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in trainer["env"]}
        assert env["MODELSHIP_TRIGGER"] == "drift"
        assert f'"source":"live/{stable}"' in env["MODELSHIP_DRIFT_SUMMARY"]

    warnings = [e for e in cluster.objects("events") if e.get("reason") == "Drifted"]
    assert len(warnings) == 1, "one Warning for one turn to drifted"
    assert 'modelship_drift_detected{name="wine",namespace="ml",source="live"} 1.0' in metrics()


def test_an_unreadable_pod_is_said_and_a_clean_window_raises_nothing(
    cluster: EmulatedCluster,
) -> None:
    create(cluster, model_deployment("wine", NS, rollout=GATEWAY, monitoring=mirrored()))
    stable = stable_revision(cluster)
    start_drift_watch_pod(cluster, "127.0.0.9")

    def drifted_message() -> str:
        md = get(cluster, MD_API, "ModelDeployment", NS, "wine")
        found = condition(md, "Drifted") if md else {}
        return str(found.get("message", ""))

    # Nothing answers at 127.0.0.9:8003 yet.
    unreadable = wait_for(
        "the unreadable pod said",
        lambda: "The drift-watch pod's metrics cannot be read" in (m := drifted_message()) and m,
    )
    assert "http://127.0.0.9:8003/metrics" in unreadable
    assert drift_of(cluster) == {}

    clean = window_metrics(1000, stable)
    with metrics_server("127.0.0.9", METRICS_PORT, lambda: clean):
        checked = wait_for("the clean live check", lambda: drift_of(cluster))
    assert (checked["source"], checked["drifted"], checked["consecutive"]) == (
        f"live/{stable}",
        False,
        0,
    )
    md = get(cluster, MD_API, "ModelDeployment", NS, "wine")
    assert (condition(md, "Drifted")["status"], condition(md, "Drifted")["reason"]) == (
        "False",
        "NoDrift",
    )
    assert not [e for e in cluster.objects("events") if e.get("reason") == "Drifted"]
    assert drift_runs(cluster, NS) == []


def test_a_drift_watch_pod_that_cannot_fetch_the_model_says_why(cluster: EmulatedCluster) -> None:
    create(cluster, model_deployment("wine", NS, rollout=GATEWAY, monitoring=mirrored()))
    deployment = drift_watch_deployment(cluster)
    template = deployment["spec"]["template"]
    pod = create_drift_watch_pod(cluster, deployment)
    # What the kubelet writes once the fetch init container has failed and backs off.
    fetch = {
        "name": "fetch",
        "image": template["spec"]["initContainers"][0]["image"],
        "imageID": "",
        "ready": False,
        "restartCount": 2,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1, "message": "NoSuchKey: s3://models/wine/1"}},
    }
    status = {"phase": "Pending", "initContainerStatuses": [fetch]}
    patch(cluster, "v1", "Pod", NS, pod, {"status": status}, status=True)

    found = wait_for(
        "the fetch failure in Drifted",
        lambda: (c := drifted_condition(cluster)).get("reason") == "ModelFetchFailed" and c,
    )
    assert found["status"] == "Unknown"
    assert (
        "The drift-watch pod cannot start: Fetching the model failed (exit code 1):"
        " NoSuchKey: s3://models/wine/1. Check spec.model.uri and its credentials."
    ) in found["message"]
    assert drift_of(cluster) == {}
