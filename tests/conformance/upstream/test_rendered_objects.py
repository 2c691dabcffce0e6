"""Every object `modelship render` produces is one the components beside it accept.

For every sample in crds/samples/ and every edge spec (edge_specs.py), `modelship
render` either refuses the spec, or every object it prints passes:
- the upstream CRD of its kind (ScaledObject, HTTPRoute, GRPCRoute, monitors), schema
  and every CEL rule, as the API server would check it (upstream_crd.py);
- kubernetes-validate in strict mode, for the core kinds, on Kubernetes 1.29 and 1.37;
- KEDA's admission webhook, for each ScaledObject, against the Deployment rendered
  as its target, and the metadata checks its scalers make once admitted (keda_webhook.py).
A kind with neither an upstream CRD nor a core schema fails: nothing passes unchecked.
The routes are also checked mid-canary (two weighted revisions), which render never shows.

Edge specs KEDA or the Gateway API would refuse must be refused by render first,
with a message naming the field.
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from typing import Any

import kubernetes_validate
import pydantic
import pytest
import yaml
from click.testing import CliRunner
from modelship.api import ModelDeployment
from modelship.api.model_deployment import TrafficRouter
from modelship.builders import (
    build_model_deployment_children,
)
from modelship.builders.defaults import canary_settings
from modelship.builders.grpc_route import build_grpc_route
from modelship.cli.render import render
from support.edge_specs import EDGE_SPECS
from support.keda_webhook import refusal, scaler_problem
from support.rollout_plans import rollout_plan
from support.upstream_crd import upstream_crds

REPO = Path(__file__).resolve().parents[3]
SAMPLES = sorted((REPO / "crds" / "samples").glob("*.yaml"))
KUBERNETES_VERSIONS = ("1.29", "1.37")
# What a RetrainJob followed by a sample would have promoted.
PROMOTED = {"version": "r1", "uri": "s3://models/churn/r1", "sha256": "d" * 64}

# Edge specs that KEDA's webhook or the Gateway API CRD would refuse: our API refuses
# them first, at `kubectl apply` and in render, naming the field.
REFUSED_BY_OUR_API = {
    "keda-cpu-without-request": "cpu",
    "keda-memory-without-request": "memory",
    "keda-name-55": "54",
    "keda-scale-to-zero-cpu-only": "minReplicas",
    "gateway-duplicate-parents": "parentRefs",
    "gateway-section-name-not-dns": "sectionName",
}
# Edge specs that are right as they are: render must print them.
MUST_RENDER = sorted(set(EDGE_SPECS) - set(REFUSED_BY_OUR_API))


def _cases() -> list[Any]:
    samples = [pytest.param(path.read_text(), id=path.name) for path in SAMPLES]
    edges = [pytest.param(yaml.safe_dump(doc), id=name) for name, doc in EDGE_SPECS.items()]
    return samples + edges


@functools.cache
def rendered(text: str) -> tuple[int, str, tuple[dict[str, Any], ...]]:
    """`modelship render` of one manifest file: exit code, output, and the objects printed.

    A ModelDeployment following a RetrainJob gets that RetrainJob's promoted result.
    """
    documents = [doc for doc in yaml.safe_load_all(text) if doc]
    with tempfile.TemporaryDirectory() as where:
        manifest, result_file = Path(where) / "manifest.yaml", Path(where) / "result.json"
        manifest.write_text(text)
        result_file.write_text(json.dumps(PROMOTED))
        args = ["-f", str(manifest)]
        for doc in documents:
            followed = ((doc.get("spec") or {}).get("model") or {}).get("fromRetrainJob")
            if followed:
                args += ["--retrain-result", f"{followed}={result_file}"]
        result = CliRunner().invoke(render, args)
    objects = list(yaml.safe_load_all(result.stdout)) if result.exit_code == 0 else []
    return result.exit_code, result.output, tuple(obj for obj in objects if obj)


def _problems(obj: dict[str, Any]) -> list[str]:
    crd = upstream_crds().get((obj["apiVersion"], obj["kind"]))
    if crd is not None:
        return crd.problems(obj)
    problems = []
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            return [f"no upstream CRD and no Kubernetes {version} schema: cannot check it"]
        except kubernetes_validate.ValidationError as error:
            problems.append(f"Kubernetes {version}: {error.message}")
    return problems


@pytest.mark.parametrize("text", _cases())
def test_every_rendered_object_passes_its_upstream_schema_and_rules(text: str) -> None:
    code, output, objects = rendered(text)
    if code != 0:
        return  # our API refuses it: nothing reaches a cluster
    assert objects, output
    found = {
        f"{obj['kind']}/{obj['metadata']['name']}": problems
        for obj in objects
        if (problems := _problems(obj))
    }
    assert found == {}


@pytest.mark.parametrize("text", _cases())
def test_keda_admits_every_rendered_scaled_object(text: str) -> None:
    code, _, objects = rendered(text)
    if code != 0:
        return  # our API refuses it, as KEDA would
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], []).append(obj)
    deployments = {d["metadata"]["name"]: d for d in by_kind.get("Deployment", [])}
    refusals = {
        so["metadata"]["name"]: refusal(
            so,
            deployments.get(so["spec"]["scaleTargetRef"]["name"]),
            hpas=by_kind.get("HorizontalPodAutoscaler", []),
            scaled_objects=by_kind.get("ScaledObject", []),
        )
        for so in by_kind.get("ScaledObject", [])
    }
    assert {name: why for name, why in refusals.items() if why} == {}
    scalers = [
        problem
        for so in by_kind.get("ScaledObject", [])
        for trigger in so["spec"]["triggers"]
        if (problem := scaler_problem(trigger))
    ]
    assert scalers == []


@pytest.mark.parametrize("name", MUST_RENDER)
def test_edge_specs_meant_to_be_served_render(name: str) -> None:
    """So that the two tests above cannot pass by our API refusing good specs."""
    code, output, objects = rendered(yaml.safe_dump(EDGE_SPECS[name]))
    assert code == 0, output
    assert objects


@pytest.mark.parametrize(("name", "field"), sorted(REFUSED_BY_OUR_API.items()))
def test_specs_the_cluster_would_refuse_are_refused_by_render(name: str, field: str) -> None:
    code, output, _ = rendered(yaml.safe_dump(EDGE_SPECS[name]))
    assert code != 0
    assert field in output


GATEWAY_CASES = [
    name for name, document in EDGE_SPECS.items() if "gatewayAPI" in json.dumps(document)
]


@pytest.mark.parametrize("name", GATEWAY_CASES)
def test_routes_mid_canary_pass_the_gateway_api_crds(name: str) -> None:
    """Both revisions weighted, on HTTP and on gRPC (the GRPCRoute given the same parents)."""
    try:
        md = ModelDeployment.model_validate(EDGE_SPECS[name])
    except pydantic.ValidationError:
        return  # our API refuses it: nothing reaches a cluster
    canary = canary_settings(md.spec.rollout)
    assert canary is not None
    assert canary.traffic.router == TrafficRouter.GATEWAY_API
    plan = rollout_plan(md, canary_weight=10, versions=("1", "2"))
    routes = [c for c in build_model_deployment_children(md, plan) if c["kind"] == "HTTPRoute"]
    routes.append(build_grpc_route(md, canary.traffic.parent_refs, plan))
    assert [len(r["spec"]["rules"][0]["backendRefs"]) for r in routes] == [2, 2]
    found = {r["kind"]: problems for r in routes if (problems := _problems(r))}
    assert found == {}
