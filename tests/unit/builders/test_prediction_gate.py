"""The prediction gate Job, compared whole: fetch the canary's model, then `modelship compare`
against the stable and canary revisions' own Services with the gate's bounds.

Proves: the Job exists only while the plan runs the gate; restricted security, no service
account token; the deadline from the gate's timeout, one retry, a TTL for when no operator
deletes it; the credentials Secret reaches `compare` only when it reads a table from storage
(the fetch init container has it by reference, as every model pod); the name carries a
digest of what it compares, so other bounds make another Job; the command line parses with
the real CLI.
"""

from __future__ import annotations

from typing import Any

import click
import kubernetes_validate
from modelship.builders import (
    RevisionPlan,
    RolloutPlan,
    build_model_deployment_children,
    revision_for,
)
from modelship.cli import main
from support.custom_resources import controller_reference
from support.model_pods import HOME, IMAGE, MODEL_READER_MOUNTS, MODEL_VOLUMES, fetch_init_container
from support.resolved_models import fraud_model
from support.restricted_pods import JOB_POD, RESTRICTED_CONTAINER

SECRET = [{"secretRef": {"name": "store"}}]
GATE = {"minAgreement": 0.9, "maxShift": 0.3, "rows": 500, "timeout": "4m30s"}


def gate_jobs(make_deployment: Any, gate: dict[str, Any], runs: bool = True) -> list[Any]:
    return gate_jobs_beside(make_deployment, gate, runs)[0]


def gate_jobs_beside(
    make_deployment: Any, gate: dict[str, Any], runs: bool = True
) -> tuple[list[Any], str, str]:
    """The Jobs among the children, and the stable and canary revisions' names."""
    md = make_deployment({"rollout": {"strategy": "Canary", "canary": {"predictionGate": gate}}})
    stable = revision_for(md, fraud_model("2", credentials_secret="store"))
    canary = revision_for(md, fraud_model("3", credentials_secret="store"))
    plan = RolloutPlan(
        stable=RevisionPlan(stable, replicas=1, weight=100),
        canary=RevisionPlan(canary, replicas=1, weight=0),
        prediction_gate=runs,
    )
    children = build_model_deployment_children(md, plan)
    return [child for child in children if child["kind"] == "Job"], stable.name, canary.name


def labels(canary: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "triton",
        "app.kubernetes.io/instance": "fraud",
        "app.kubernetes.io/component": "prediction-gate",
        "app.kubernetes.io/managed-by": "modelship",
        "modelship.dev/deployment": "fraud",
        "modelship.dev/revision": canary,
        "modelship.dev/model-version": "3",
    }


def test_the_gate_job(make_deployment: Any) -> None:
    (job,), stable, canary = gate_jobs_beside(make_deployment, GATE)
    assert job == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job["metadata"]["name"],
            "namespace": "ml",
            "labels": labels(canary),
            "annotations": {"modelship.dev/model-uri": "s3://models/fraud/3"},
            "ownerReferences": [controller_reference()],
        },
        "spec": {
            "backoffLimit": 1,
            "activeDeadlineSeconds": 270,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"labels": labels(canary)},
                "spec": {
                    **JOB_POD,
                    "initContainers": [
                        fetch_init_container("s3://models/fraud/3", env_from=SECRET)
                    ],
                    "containers": [
                        {
                            "name": "compare",
                            "image": IMAGE,
                            "command": ["modelship"],
                            "args": [
                                "compare",
                                "--model-repo",
                                "/models",
                                "--model",
                                "fraud",
                                "--stable",
                                f"{stable}.ml.svc:8000",
                                "--candidate",
                                f"{canary}.ml.svc:8000",
                                "--rows",
                                "500",
                                "--min-agreement",
                                "0.9",
                                "--max-shift",
                                "0.3",
                                "--termination-path",
                                "/dev/termination-log",
                            ],
                            "env": [HOME],
                            "volumeMounts": MODEL_READER_MOUNTS,
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File",
                            "securityContext": RESTRICTED_CONTAINER,
                        }
                    ],
                    "volumes": MODEL_VOLUMES,
                },
            },
        },
    }
    assert job["metadata"]["name"].startswith(f"{canary}-gate-")
    assert len(job["metadata"]["name"]) <= 63


def test_a_table_from_storage_is_read_with_the_model_credentials(make_deployment: Any) -> None:
    (job,) = gate_jobs(make_deployment, {**GATE, "data": "s3://data/reference.parquet"})
    compare = job["spec"]["template"]["spec"]["containers"][0]
    assert compare["envFrom"] == SECRET
    assert compare["args"][-4:-2] == ["--data", "s3://data/reference.parquet"]


def test_other_bounds_make_another_job_and_no_gate_makes_none(make_deployment: Any) -> None:
    (first,) = gate_jobs(make_deployment, GATE)
    (stricter,) = gate_jobs(make_deployment, {**GATE, "minAgreement": 0.99})
    assert first["metadata"]["name"] != stricter["metadata"]["name"]
    assert gate_jobs(make_deployment, GATE, runs=False) == []


def test_the_command_line_parses_with_the_real_cli(make_deployment: Any) -> None:
    (job,) = gate_jobs(make_deployment, {**GATE, "data": "s3://data/reference.parquet"})
    command, name, *args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    group = click.Context(main, info_name="modelship")
    compare = main.get_command(group, command)
    assert compare is not None
    assert compare.params, "`modelship compare` is installed here"
    options = compare.make_context(command, [name, *args], parent=group).params
    assert (options["min_agreement"], options["max_shift"], options["rows"]) == (0.9, 0.3, 500)


def test_resources_reach_compare_and_make_another_job(make_deployment: Any) -> None:
    """The gate's resources go to the compare container, nothing else changes but the name:
    a Job's pod template cannot change, so other resources start another Job."""
    resources = {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}}
    (plain,) = gate_jobs(make_deployment, GATE)
    (sized,) = gate_jobs(make_deployment, {**GATE, "resources": resources})
    compare = sized["spec"]["template"]["spec"]["containers"][0]
    assert compare.pop("resources") == resources
    assert sized["metadata"].pop("name") != plain["metadata"].pop("name")
    assert sized == plain
    (sized,) = gate_jobs(make_deployment, {**GATE, "resources": resources})
    for version in ("1.29", "1.37"):
        kubernetes_validate.validate(sized, version, strict=True)
