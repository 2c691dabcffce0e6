"""The canary's prediction gate Job, built for every sample ModelDeployment (with and
without a reference table in storage), passes kubernetes-validate in strict mode on
Kubernetes 1.29 and 1.37, as the API server would check it; `modelship render` never shows
it (it exists only mid-canary), so the rendered-objects test cannot."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from modelship.api import ModelDeployment
from modelship.builders import build_model_deployment_children
from support.rollout_plans import rollout_plan

REPO = Path(__file__).resolve().parents[3]
SAMPLES = sorted((REPO / "crds" / "samples").glob("*.yaml"))
KUBERNETES_VERSIONS = ("1.29", "1.37")
GATES = {
    "profile": {},
    "table": {"data": "s3://reference/fraud.parquet", "maxMeanAbsDiff": 0.5, "timeout": "90s"},
}


def _gated(document: dict[str, Any], gate: dict[str, Any]) -> ModelDeployment:
    document = {**document, "metadata": {**document["metadata"], "uid": "uid-1"}}
    canary = document["spec"].get("rollout", {}).get("canary", {})  # traffic kept
    rollout = {"strategy": "Canary", "canary": {**canary, "predictionGate": gate}}
    return ModelDeployment.model_validate(
        {**document, "spec": {**document["spec"], "rollout": rollout}}
    )


def _cases() -> list[Any]:
    return [
        pytest.param(document, gate, id=f"{path.name}-{name}")
        for path in SAMPLES
        for document in yaml.safe_load_all(path.read_text())
        if document and document["kind"] == "ModelDeployment"
        and not document["spec"]["model"].get("fromRetrainJob")
        for name, gate in GATES.items()
    ]  # fmt: skip


@pytest.mark.parametrize(("document", "gate"), _cases())
def test_the_gate_job_passes_the_kubernetes_schema(
    document: dict[str, Any], gate: dict[str, Any]
) -> None:
    md = _gated(document, gate)
    plan = dataclasses.replace(rollout_plan(md, canary_weight=0), prediction_gate=True)
    (job,) = [c for c in build_model_deployment_children(md, plan) if c["kind"] == "Job"]
    for version in KUBERNETES_VERSIONS:
        kubernetes_validate.validate(job, version, strict=True)
