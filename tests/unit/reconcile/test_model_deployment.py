"""ModelDeployment decisions: children to create, patch or delete, the status, and quiet when idle.

Each case starts from a plain observed state and checks the whole outcome: the
actions (kind and name), the Ready condition, and whether a status write is due.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from modelship.core.objects import Create, Delete, Patch, Ref
from modelship.reconcile.model_deployment import Decision, Observed, decide
from support.reconcile_states import LATER, NOW, UID, as_live, md_body

CHILDREN = {"Deployment", "Service", "PodDisruptionBudget"}


def summary(decision: Decision) -> list[tuple[str, str, str]]:
    return [(type(a).__name__, a.ref.kind, a.ref.name) for a in decision.actions]


def ready(decision: Decision) -> tuple[str, str]:
    found = next(c for c in decision.status["conditions"] if c["type"] == "Ready")
    return found["status"], found["reason"]


def converge(body: dict[str, Any], available: bool = True) -> Observed:
    """Apply what a first reconcile decides, as a cooperative API server would."""
    first = decide(Observed(body=body, children=[], now=NOW))
    children = [
        as_live(dict(a.manifest), available) for a in first.actions if isinstance(a, Create)
    ]
    settled = decide(Observed(body={**body, "status": first.status}, children=children, now=NOW))
    return Observed(body={**body, "status": settled.status}, children=children, now=NOW)


def test_a_new_model_deployment_gets_its_children_and_waits_for_pods() -> None:
    decision = decide(Observed(body=md_body(), children=[], now=NOW))
    revision = decision.status["stable"]["name"]
    assert revision.startswith("wine-")
    assert summary(decision) == [
        ("Create", "Deployment", revision),
        ("Create", "Service", revision),
        ("Create", "Service", "wine"),
        ("Create", "PodDisruptionBudget", "wine"),
    ]
    for action in decision.actions:
        assert isinstance(action, Create)
        assert action.manifest["metadata"]["ownerReferences"][0]["uid"] == UID
    assert ready(decision) == ("False", "WaitingForReplicas")
    assert decision.status["observedGeneration"] == 1
    assert decision.status["history"] == [
        {
            "revision": revision,
            "version": "1",
            "uri": "s3://models/wine/1",
            "deployedAt": "2026-01-02T03:04:05Z",
            "outcome": "Serving",
        }
    ]


def test_the_operator_fetch_image_reaches_the_serving_pods() -> None:
    """The operator's MODELSHIP_FETCH_IMAGE (in Observed) fetches; Triton keeps its image."""
    decision = decide(Observed(body=md_body(), children=[], now=NOW, fetch_image="op:1"))
    (deployment,) = [
        a.manifest for a in decision.actions if isinstance(a, Create) and a.ref.kind == "Deployment"
    ]
    pod = deployment["spec"]["template"]["spec"]
    assert [c["image"] for c in pod["initContainers"] if c["name"] == "fetch"] == ["op:1"]
    assert "op:1" not in [c["image"] for c in pod["containers"]]


def test_converged_and_idle_means_no_action_and_no_status_write() -> None:
    observed = converge(md_body())
    idle = decide(dataclasses.replace(observed, now=LATER))
    assert idle.actions == ()
    assert idle.status_patch == {}
    assert idle.events == ()
    assert ready(idle) == ("True", "Serving")


def test_available_pods_make_it_ready_with_one_status_write() -> None:
    observed = converge(md_body(), available=False)
    children = [as_live(dict(c), available=True) if c["kind"] == "Deployment" else c
                for c in observed.children]  # fmt: skip
    decision = decide(dataclasses.replace(observed, children=children, now=LATER))
    assert decision.actions == ()
    assert ready(decision) == ("True", "Serving")
    assert set(decision.status_patch) == {"conditions", "stable"}
    assert [e.reason for e in decision.events] == ["Serving"]


def test_a_new_version_starts_beside_the_stable_one_then_replaces_it() -> None:
    observed = converge(md_body())
    old = observed.body["status"]["stable"]["name"]
    body = {**md_body(version="2", generation=2), "status": observed.body["status"]}
    rolling = decide(dataclasses.replace(observed, body=body))
    new = rolling.status["canary"]["name"]
    assert summary(rolling) == [
        ("Create", "Deployment", new),
        ("Create", "Service", new),
    ]
    assert ready(rolling) == ("False", "RollingOut")
    assert rolling.status["stable"]["name"] == old

    started = [as_live(dict(a.manifest), available=True) for a in rolling.actions
               if isinstance(a, Create)]  # fmt: skip
    body = {**body, "status": rolling.status}
    promoted = decide(
        dataclasses.replace(observed, body=body, children=[*observed.children, *started])
    )
    assert summary(promoted) == [
        ("Patch", "Service", "wine"),
        ("Delete", "Deployment", old),
        ("Delete", "Service", old),
    ]
    assert promoted.status["stable"]["name"] == new
    assert "canary" not in promoted.status
    assert [(h["version"], h["outcome"]) for h in promoted.status["history"]] == [
        ("2", "Serving"),
        ("1", "Superseded"),
    ]
    assert [e.reason for e in promoted.events] == ["Serving", "RevisionPromoted"]


def test_replicas_change_patches_the_revision_in_place() -> None:
    observed = converge(md_body())
    body = {**md_body(generation=2, serving={"replicas": 3}), "status": observed.body["status"]}
    decision = decide(dataclasses.replace(observed, body=body))
    assert len(decision.actions) == 1
    patch = decision.actions[0]
    assert isinstance(patch, Patch)
    assert patch.ref.kind == "Deployment"
    assert patch.patch["spec"]["replicas"] == 3


def test_a_child_no_longer_wanted_is_deleted_and_a_missing_one_created() -> None:
    observed = converge(md_body(batch=[]))
    stray = as_live(
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "wine", "namespace": "ml"},
            "spec": {},
        }
    )
    children = [c for c in observed.children if c["metadata"]["name"] != "wine"] + [stray]
    decision = decide(dataclasses.replace(observed, children=children))
    assert summary(decision) == [
        ("Delete", "HorizontalPodAutoscaler", "wine"),  # autoscalers go first: see ordering
        ("Create", "Service", "wine"),
        ("Create", "PodDisruptionBudget", "wine"),
    ]


@pytest.mark.parametrize(
    ("change", "reason", "message"),
    [
        (
            {"body": md_body(generation=2, autoscaling={"minReplicas": 5, "maxReplicas": 2})},
            "InvalidSpec",
            "Invalid spec: spec.autoscaling: minReplicas must not exceed maxReplicas (5 > 2).",
        ),
        (
            {"body": md_body(generation=2, serving={"replicas": -1})},
            "InvalidSpec",
            "Invalid spec: spec.serving.replicas: Input should be greater than or equal to 0.",
        ),
        (
            {
                "body": {
                    **md_body(generation=2),
                    "spec": {"model": {"name": "wine", "fromRetrainJob": "nightly"}},
                }
            },
            "ModelUnresolved",
            'RetrainJob "nightly" is not known.',
        ),
    ],
)
def test_what_blocks_the_wanted_revision_is_reported_and_touches_nothing(
    change: dict[str, Any], reason: str, message: str
) -> None:
    observed = converge(md_body())
    stable = observed.body["status"]["stable"]
    if "body" in change:
        change["body"] = {**change["body"], "status": observed.body["status"]}
    decision = decide(dataclasses.replace(observed, **change))
    assert decision.actions == ()
    found = next(c for c in decision.status["conditions"] if c["type"] == "Ready")
    assert (found["status"], found["reason"]) == ("False", reason)
    assert found["message"] == (f"{message} Revision {stable['name']} (version 1) keeps serving.")
    assert decision.status["stable"] == stable
    assert [(e.type, e.reason) for e in decision.events] == [("Warning", reason)]


def test_a_name_held_by_another_owner_is_reported() -> None:
    observed = Observed(
        body=md_body(),
        children=[],
        now=NOW,
        conflicts=frozenset({Ref("v1", "Service", "ml", "wine")}),
    )
    decision = decide(observed)
    assert decision.actions == ()
    assert ready(decision) == ("False", "NameConflict")


def test_from_retrain_job_serves_the_promoted_model() -> None:
    body = {**md_body(), "spec": {"model": {"name": "wine", "fromRetrainJob": "nightly"}}}
    retrain_job = {
        "metadata": {"name": "nightly", "namespace": "ml"},
        "spec": {
            "modelDeployment": "wine",
            "template": {"image": "trainer:1"},
            "data": {"uri": "s3://data/wine", "version": "d7"},
            "output": {"uri": "s3://models/wine/{run}"},
            "validation": {"metric": "auc"},
        },
        "status": {"promoted": {"version": "7", "uri": "s3://models/wine/run-7"}},
    }
    decision = decide(Observed(body=body, children=[], now=NOW, retrain_job=retrain_job))
    assert decision.status["stable"]["version"] == "7"
    assert decision.status["history"][0]["lineage"] == {
        "dataVersion": "d7",
        "dataUri": "s3://data/wine",
        "parameters": {},
    }
    assert all(isinstance(a, Create) for a in decision.actions)


def test_delete_is_only_for_children_given_as_ours() -> None:
    assert all(not isinstance(a, Delete) for a in decide(converge(md_body())).actions)


def test_batch_jobs_report_their_cron_jobs_last_runs() -> None:
    nightly = {
        "name": "nightly",
        "schedule": "0 2 * * *",
        "input": {"uri": "s3://data/in/{date}.csv"},
        "output": {"uri": "s3://data/out/{date}.parquet"},
    }
    hourly = {**nightly, "name": "hourly", "schedule": "@hourly"}
    observed = converge(md_body(batch=[nightly, hourly]))
    children = [
        {**c, "status": {"lastScheduleTime": "2026-01-02T02:00:00Z",
                         "lastSuccessfulTime": "2026-01-02T02:05:00Z"}}
        if c["metadata"]["name"] == "wine-nightly" else c
        for c in observed.children
    ]  # fmt: skip
    decision = decide(dataclasses.replace(observed, children=children))
    assert decision.status["batch"] == [
        {
            "name": "nightly",
            "lastScheduleTime": "2026-01-02T02:00:00Z",
            "lastSuccessfulTime": "2026-01-02T02:05:00Z",
        },
        {"name": "hourly"},
    ]
    assert set(decision.status_patch) == {"batch"}


def stuck_pod(revision: str) -> dict[str, Any]:
    """A pod of the revision as the kubelet leaves it when its credentials Secret is missing."""
    waiting = {"reason": "CreateContainerConfigError", "message": 'secret "store" not found'}
    return {
        "metadata": {"name": f"{revision}-x1", "labels": {"modelship.dev/revision": revision}},
        "status": {"initContainerStatuses": [{"name": "fetch", "state": {"waiting": waiting}}]},
    }


# A revision whose pods wait for a missing Secret: it makes no progress, and that degrades.
STUCK_ON_SECRET = {
    "Progressing": ("False", "SecretNotFound"),
    "Degraded": ("True", "SecretNotFound"),
}


def conditions(decision: Decision) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in decision.status["conditions"]}


def test_a_new_revision_that_cannot_start_is_reported_while_the_old_one_serves() -> None:
    observed = converge(md_body())
    old = observed.body["status"]["stable"]["name"]
    model = {
        "name": "wine",
        "version": "2",
        "uri": "s3://models/wine/2",
        "credentialsSecret": "store",
    }
    body = {**md_body(generation=2), "spec": {"model": model}, "status": observed.body["status"]}
    rolling = decide(dataclasses.replace(observed, body=body))
    new = rolling.status["canary"]["name"]
    # The serving revision keeps the Secret it has; only the new one names the new Secret.
    assert summary(rolling) == [("Create", "Deployment", new), ("Create", "Service", new)]

    started = [as_live(dict(a.manifest)) for a in rolling.actions if isinstance(a, Create)]
    stuck = decide(
        dataclasses.replace(
            observed,
            body={**body, "status": rolling.status},
            children=[*observed.children, *started],
            pods=[stuck_pod(new)],
        )
    )
    assert stuck.actions == ()
    assert conditions(stuck) == {
        "Ready": ("True", "Serving"),
        "Available": ("True", "MinimumReplicasAvailable"),
        **STUCK_ON_SECRET,
    }
    message = (
        f'Pods of revision {new} (version 2) cannot start: Secret "store" does not exist in '
        "namespace ml: create it there, or fix spec.model.credentialsSecret."
    )
    assert [(e.type, e.reason, e.message) for e in stuck.events] == [
        ("Normal", "Serving", f"Revision {old} serves model version 1 on 1 of 1 pods. {message}"),
        ("Warning", "SecretNotFound", message),
    ]
    assert stuck.status["stable"]["name"] == old


def test_a_first_revision_that_cannot_start_is_not_ready() -> None:
    body = md_body()
    body["spec"]["model"]["credentialsSecret"] = "store"
    observed = converge(body, available=False)
    revision = observed.body["status"]["stable"]["name"]
    decision = decide(dataclasses.replace(observed, pods=[stuck_pod(revision)]))
    assert decision.actions == ()
    assert conditions(decision) == {
        "Ready": ("False", "SecretNotFound"),
        "Available": ("False", "NoReplicasAvailable"),
        **STUCK_ON_SECRET,
    }
    assert [(e.type, e.reason) for e in decision.events] == [("Warning", "SecretNotFound")]
