"""The real operator process against an emulated API server over HTTP.

Proves, end to end through Kopf, lightkube and HTTP: children and a Ready status
from a ModelDeployment; a new revision on a version change and the old one
retired; serving changes patched in place; hand edits repaired and foreign
objects left alone; bad specs and missing references reported without touching
the serving revision; a missing Secret reported from the pod the kubelet leaves
waiting, as soon as the pod says so; API faults survived; a restart mid-way makes no
duplicates; an idle operator writes nothing; what deletion leaves to the
garbage collector is exactly what the ModelDeployment controls.
"""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from lightkube.generic_resource import create_global_resource
from modelship_serving.triton.server import free_port
from support import scenarios
from support.custom_resources import model_following_body
from support.emulator import Fault, Kind
from support.harness import RESYNC_SECONDS, EmulatedCluster, OperatorProcess
from support.scenarios import (
    MD_API,
    create,
    delete,
    deployments,
    get,
    job_pod_ended,
    md_with,
    model_deployment,
    patch,
    ready_model_deployment,
    retrain_job,
    wait_for,
)

NS = "ml"

SHARED = [
    scenarios.create_gives_children_and_ready,
    scenarios.version_change_makes_new_revision,
    scenarios.scale_and_resources_patch_in_place,
    scenarios.hand_edits_are_repaired,
    scenarios.missing_secret_is_reported_from_the_pods,
    scenarios.invalid_spec_is_reported_and_touches_nothing,
    scenarios.model_from_retrain_job,
    scenarios.deletion_leaves_only_owned_children,
]


@pytest.mark.parametrize("scenario", SHARED, ids=lambda s: s.__name__)
def test_scenario(cluster: EmulatedCluster, scenario: scenarios.Scenario) -> None:
    scenario(cluster, NS)


def test_a_pod_that_cannot_start_is_reported_without_waiting_for_a_resync(
    cluster: EmulatedCluster,
) -> None:
    """The watch on its Triton pods, not the timer, brings the kubelet's report in."""
    cluster.operator.stop()
    cluster.operator.extra_args = ["--resync-interval=3600"]
    cluster.operator.start()
    scenarios.missing_secret_is_reported_from_the_pods(cluster, NS)


def test_api_faults_are_survived(cluster: EmulatedCluster) -> None:
    cluster.inject(
        Fault("POST", "deployments", 500),
        Fault("POST", "services", 429, retry_after=1),
        Fault("PATCH", "modeldeployments", 409, subresource="status"),
    )
    create(cluster, model_deployment("wine", NS))
    deployment = wait_for("the Deployment despite a 500", lambda: deployments(cluster, NS, "wine"))
    cluster.drop_watches()
    cluster.make_available(deployment[0])
    md = md_with(cluster, NS, "wine", "Ready", "True", "Serving")
    assert md["status"]["stable"]["readyReplicas"] == 1
    assert len(cluster.objects("deployments")) == 1
    assert sorted(s["metadata"]["name"] for s in cluster.objects("services")) == sorted(
        ["wine", deployment[0]["metadata"]["name"]]
    )
    served = cluster.server.call(lambda: [f.served for f in cluster.server.emulator.faults])
    assert served == [1, 1, 1], "every fault was hit"


def test_restart_mid_way_makes_no_duplicates_and_idles_quietly(cluster: EmulatedCluster) -> None:
    names = [f"model-{i}" for i in range(5)]
    for name in names:
        create(cluster, model_deployment(name, NS))
    wait_for("a first child", lambda: cluster.objects("deployments"))
    cluster.operator.stop(kill=True)  # mid-way: some children exist, some statuses unwritten
    cluster.operator.start()

    for name in names:
        cluster.make_available(wait_for(name, lambda n=name: deployments(cluster, NS, n))[0])
    for name in names:
        md_with(cluster, NS, name, "Ready", "True", "Serving")
    assert len(cluster.objects("deployments")) == len(names)
    assert len(cluster.objects("services")) == 2 * len(names)

    # Converged: a few resyncs later nothing has been written, status and Events included.
    time.sleep(RESYNC_SECONDS * 2)  # let writes already in flight land before counting
    before = cluster.writes()
    time.sleep(RESYNC_SECONDS * 4)
    assert cluster.writes()[len(before) :] == []


def test_watches_only_the_namespaces_it_is_given(cluster: EmulatedCluster) -> None:
    cluster.operator.stop()
    for ns in (NS, "elsewhere"):
        create(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    cluster.operator.env = {"MODELSHIP_NAMESPACES": f'["{NS}"]'}  # as the flag --namespace
    cluster.operator.start()
    create(cluster, model_deployment("other", "elsewhere"))
    create(cluster, model_deployment("wine", NS))
    wait_for("the watched namespace's children", lambda: deployments(cluster, NS, "wine"))
    time.sleep(RESYNC_SECONDS * 2)  # time enough for a wrong operator to act
    assert deployments(cluster, "elsewhere", "other") == []


def test_serves_metrics_and_liveness_quietly(cluster: EmulatedCluster) -> None:
    """/metrics counts the reconciles; /healthz answers, and no probe leaves a log line."""
    metrics_port, liveness_port = free_port(), free_port()
    cluster.operator.stop()
    cluster.operator.verbose = False
    cluster.operator.extra_args = [
        f"--metrics-port={metrics_port}",
        f"--liveness-port={liveness_port}",
    ]
    cluster.operator.start()
    create(cluster, model_deployment("wine", NS))
    wait_for("a reconcile", lambda: deployments(cluster, NS, "wine"))

    expected = (
        'modelship_api_writes_total{kind="Deployment",verb="created"} 1.0',
        'modelship_reconciles_total{kind="ModelDeployment",trigger="create"} 1.0',
        'modelship_reconcile_duration_seconds_count{kind="ModelDeployment"}',
    )

    def scrape() -> str | None:
        try:
            text = fetch(f"http://127.0.0.1:{metrics_port}/metrics")
        except OSError:
            return None
        return text if all(line in text for line in expected) else None

    assert wait_for("the first reconcile counted in /metrics", scrape)
    assert wait_for("/healthz", lambda: _healthy(liveness_port))
    assert _healthy(liveness_port)
    cluster.operator.stop()  # its log is complete
    assert "/healthz" not in _log(cluster.operator)


def _healthy(port: int) -> bool:
    try:
        fetch(f"http://127.0.0.1:{port}/healthz")
    except OSError:
        return False
    return True


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def test_replicas_with_peering_let_one_act(cluster: EmulatedCluster, tmp_path: Path) -> None:
    """Kopf peering as leader election: the higher priority acts, the other takes over after it."""
    cluster.operator.stop()
    cluster.server.call(lambda: cluster.server.emulator.register(PEERING))
    create_global_resource("kopf.dev", "v1", "ClusterKopfPeering", "clusterkopfpeerings")
    create(
        cluster,
        {
            "apiVersion": "kopf.dev/v1",
            "kind": "ClusterKopfPeering",
            "metadata": {"name": "modelship"},
        },
    )
    leader = cluster.operator
    leader.extra_args = ["--peering=modelship", "--priority=200"]
    follower = OperatorProcess(leader.kubeconfig, tmp_path / "follower.log")
    follower.extra_args = ["--peering=modelship", "--priority=100"]
    leader.start()
    # A replica that starts alone acts until it sees a peer of higher priority; reconciles
    # are idempotent, so that window is harmless, but this test wants a clear order.
    wait_for("the leader to join", lambda: "Keep-alive in 'modelship'" in _log(leader))
    follower.start()
    try:
        wait_for("the follower to join", lambda: "Keep-alive in 'modelship'" in _log(follower))
        ready_model_deployment(cluster, NS, "wine")
        assert "modeldeployments-create" not in _log(follower)

        leader.stop()
        wait_for("the follower to take over", lambda: "Resuming operations" in _log(follower))
        patch(
            cluster, MD_API, "ModelDeployment", NS, "wine", {"spec": {"serving": {"replicas": 2}}}
        )
        wait_for(
            "the follower to act",
            lambda: deployments(cluster, NS, "wine")[0]["spec"]["replicas"] == 2,
        )
    finally:
        follower.stop()


PEERING = Kind("kopf.dev/v1", "clusterkopfpeerings", "ClusterKopfPeering", namespaced=False)


def _log(process: OperatorProcess) -> str:
    return process.log.read_text() if process.log.exists() else ""


def test_a_finished_run_reports_the_trainer_result(cluster: EmulatedCluster) -> None:
    """The Job succeeds, its pod's termination message becomes status.lastRun.result."""
    create(cluster, retrain_job("retrain", NS))
    job = wait_for("the run Job", lambda: get(cluster, "batch/v1", "Job", NS, "retrain-run"))
    result = '{"version": "7", "uri": "s3://models/wine/7", "metrics": {"accuracy": 0.9}}'
    job_pod_ended(cluster, job, {"exitCode": 0, "message": result})
    patch(
        cluster,
        "batch/v1",
        "Job",
        NS,
        "retrain-run",
        {
            "status": {
                "startTime": "2026-01-02T00:00:00Z",
                "succeeded": 1,
                "completionTime": "2026-01-02T00:09:00Z",
            }
        },
        status=True,
    )

    def last_run() -> dict[str, Any] | None:
        found = get(cluster, MD_API, "RetrainJob", NS, "retrain") or {}
        run = (found.get("status") or {}).get("lastRun") or {}
        return run if "result" in run else None

    run = wait_for("the trainer's result in the status", last_run)
    # Judged at once on the metric it reported (no holdout data), then held for approval.
    assert run["outcome"] == "AwaitingApproval"
    assert run["result"] == {
        "version": "7",
        "uri": "s3://models/wine/7",
        "metrics": {"accuracy": 0.9},
    }


NIGHTLY = {
    "name": "nightly",
    "schedule": "0 2 * * *",
    "input": {"uri": "s3://data/in.parquet"},
    "output": {"uri": "s3://data/out-{date}.parquet"},
}


def batch_run(cron_job: dict[str, Any], name: str) -> dict[str, Any]:
    """A Job as the CronJob controller starts it: the template's labels, the CronJob its owner."""
    meta = cron_job["metadata"]
    owner = {"apiVersion": "batch/v1", "kind": "CronJob", "name": meta["name"], "uid": meta["uid"]}
    template = cron_job["spec"]["jobTemplate"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": template["metadata"]["labels"],
            "ownerReferences": [owner | {"controller": True, "blockOwnerDeletion": True}],
        },
        "spec": template["spec"],
    }


def test_batch_status_records_the_last_failure(cluster: EmulatedCluster) -> None:
    """A failed batch Job shows in status.batch with why; a later success leaves it recorded."""
    create(cluster, model_deployment("wine", NS, batch=[NIGHTLY]))
    cron_job = wait_for(
        "the batch CronJob", lambda: get(cluster, "batch/v1", "CronJob", NS, "wine-nightly")
    )
    run = batch_run(cron_job, "wine-nightly-1")
    create(cluster, run)
    terminated = {"exitCode": 137, "reason": "OOMKilled", "message": "row 7 of the input"}
    job_pod_ended(cluster, run, terminated)
    failed = {
        "type": "Failed",
        "status": "True",
        "reason": "BackoffLimitExceeded",
        "message": "Job has reached the specified backoff limit",
        "lastTransitionTime": "2026-01-02T02:10:00Z",
    }
    patch(
        cluster, "batch/v1", "Job", NS, "wine-nightly-1",
        {"status": {"failed": 3, "conditions": [failed]}}, status=True,
    )  # fmt: skip

    def nightly(moved: str = "lastFailureTime") -> dict[str, Any] | None:
        md = get(cluster, MD_API, "ModelDeployment", NS, "wine") or {}
        entries = (md.get("status") or {}).get("batch") or [{}]
        return entries[0] if moved in entries[0] else None

    entry = wait_for("the failure in status.batch", nightly)
    assert entry == {
        "name": "nightly",
        "lastFailureTime": "2026-01-02T02:10:00Z",
        "lastFailureMessage": "Job wine-nightly-1: BackoffLimitExceeded: Job has reached the "
        "specified backoff limit; score ended with OOMKilled (exit code 137)",
    }

    # The next night succeeds, and the failed Job falls out of the CronJob's history.
    create(cluster, batch_run(cron_job, "wine-nightly-2"))
    runs = {
        "lastScheduleTime": "2026-01-03T02:00:00Z",
        "lastSuccessfulTime": "2026-01-03T02:05:00Z",
    }
    patch(cluster, "batch/v1", "CronJob", NS, "wine-nightly", {"status": runs}, status=True)
    delete(cluster, "batch/v1", "Job", NS, "wine-nightly-1")
    entry = wait_for("the success in status.batch", lambda: nightly("lastSuccessfulTime"))
    assert entry == {
        "name": "nightly",
        **runs,
        "lastFailureTime": "2026-01-02T02:10:00Z",
        "lastFailureMessage": "Job wine-nightly-1: BackoffLimitExceeded: Job has reached the "
        "specified backoff limit; score ended with OOMKilled (exit code 137)",
    }
    warnings = [e for e in cluster.objects("events") if e.get("reason") == "BatchJobFailed"]
    assert len(warnings) == 1, "one Warning for one failure"


def test_followers_of_a_retrain_job_roll_out_its_promotion_at_once(
    cluster: EmulatedCluster,
) -> None:
    """A RetrainJob's new status.promoted reconciles its followers without waiting for a resync."""
    cluster.operator.stop()
    cluster.operator.extra_args = ["--resync-interval=3600"]  # only the promotion can wake them
    cluster.operator.start()
    create(cluster, retrain_job("retrain", NS))
    for name in ("wine", "wine-shadow"):
        create(cluster, model_following_body(name, NS, "retrain"))
        md_with(cluster, NS, name, "Ready", "False", "ModelUnresolved")

    promoted = {"version": "7", "uri": "s3://models/wine/retrain-run"}
    patch(cluster, MD_API, "RetrainJob", NS, "retrain", {"status": {"promoted": promoted}}, True)
    for name in ("wine", "wine-shadow"):
        revision = wait_for(
            f"{name}'s promoted revision", lambda n=name: deployments(cluster, NS, n)
        )
        assert revision[0]["metadata"]["labels"]["modelship.dev/model-version"] == "7"
