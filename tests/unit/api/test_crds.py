"""The checked-in CRDs are what the API types generate, and the API server would accept them.

Proves: crds/ and the chart's copy are not stale; every field is described for
`kubectl explain`, defaults pass their own schema and CEL rules, and the
CRD objects themselves are valid apiextensions.k8s.io/v1 objects for
Kubernetes 1.29 and 1.37. The API server's schema rules (structural schema,
CEL cost budget) are checked in tests/conformance/cel.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import kubernetes_validate
import pytest
from modelship.api.crd import KINDS, crd_file_name, crd_yaml

if TYPE_CHECKING:
    from conftest import OfflineApiServer

Schema = dict[str, Any]
REPO = Path(__file__).resolve().parents[3]
CRD_DIRS = [REPO / "crds", REPO / "charts" / "modelship" / "crds"]

KIND_NAMES = [kind.kind for kind in KINDS]
KUBERNETES_VERSIONS = ["1.29", "1.37"]


def _subschemas(node: Schema, path: str) -> Iterator[tuple[str, Schema]]:
    for name, child in node.get("properties", {}).items():
        yield f"{path}.{name}", child
    if isinstance(node.get("items"), dict):
        yield f"{path}[]", node["items"]
    if isinstance(node.get("additionalProperties"), dict):
        yield f"{path}{{}}", node["additionalProperties"]


def _all_schemas(node: Schema, path: str = "") -> Iterator[tuple[str, Schema]]:
    yield path, node
    for child_path, child in _subschemas(node, path):
        yield from _all_schemas(child, child_path)


@pytest.mark.parametrize("kind", KINDS, ids=KIND_NAMES)
@pytest.mark.parametrize("folder", CRD_DIRS, ids=["crds", "chart"])
def test_checked_in_crd_is_what_the_types_generate(kind: Any, folder: Any) -> None:
    path = folder / crd_file_name(kind)
    assert path.exists(), f"{path} is missing: run `make crds`"
    assert path.read_text() == crd_yaml(kind), f"{path} is stale: run `make crds`"


@pytest.mark.parametrize("folder", CRD_DIRS, ids=["crds", "chart"])
def test_no_crds_of_other_modelship_kinds_are_left(folder: Any) -> None:
    assert sorted(path.name for path in folder.glob("modelship.dev_*.yaml")) == sorted(
        crd_file_name(kind) for kind in KINDS
    )


@pytest.mark.parametrize(
    ("kind", "names", "columns"),
    [
        (
            "ModelDeployment",
            {
                "kind": "ModelDeployment",
                "listKind": "ModelDeploymentList",
                "plural": "modeldeployments",
                "singular": "modeldeployment",
                "shortNames": ["mdep"],
                "categories": ["modelship"],
            },
            [
                ("Ready", '.status.conditions[?(@.type=="Ready")].status'),
                ("Model", ".spec.model.name"),
                ("Stable", ".status.stable.version"),
                ("Canary", ".status.canary.weight"),
                ("Canary-Version", ".status.canary.version"),
                ("Canary-Step", ".status.canary.step"),
                ("Age", ".metadata.creationTimestamp"),
            ],
        ),
        (
            "RetrainJob",
            {
                "kind": "RetrainJob",
                "listKind": "RetrainJobList",
                "plural": "retrainjobs",
                "singular": "retrainjob",
                "shortNames": ["rtj"],
                "categories": ["modelship"],
            },
            [
                ("Ready", '.status.conditions[?(@.type=="Ready")].status'),
                ("Deployment", ".spec.modelDeployment"),
                ("Schedule", ".spec.schedule"),
                ("Last-Run", ".status.lastRun.outcome"),
                ("Promoted", ".status.promoted.version"),
                ("Age", ".metadata.creationTimestamp"),
            ],
        ),
    ],
)
def test_crd_names_subresources_and_columns(
    kind: str, names: dict[str, Any], columns: list[tuple[str, str]], crds: dict[str, Any]
) -> None:
    crd = crds[kind]
    assert crd["metadata"]["name"] == f"{names['plural']}.modelship.dev"
    assert crd["spec"]["group"] == "modelship.dev"
    assert crd["spec"]["scope"] == "Namespaced"
    assert crd["spec"]["names"] == names
    [version] = crd["spec"]["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}
    assert [(c["name"], c["jsonPath"]) for c in version["additionalPrinterColumns"]] == columns


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_every_field_is_described(kind: str, kind_schemas: dict[str, Schema]) -> None:
    schema = kind_schemas[kind]
    undescribed = [
        f"{path}.{name}"
        for path, node in _all_schemas(schema)
        for name, child in node.get("properties", {}).items()
        # metadata is the API server's own; kubectl explain describes it from there.
        if not child.get("description") and f"{path}.{name}" != ".metadata"
    ]
    assert undescribed == []


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_defaults_pass_their_own_schema(
    kind: str, kind_schemas: dict[str, Schema], api_server: OfflineApiServer
) -> None:
    schema = kind_schemas[kind]
    defaults = [(path, node) for path, node in _all_schemas(schema) if "default" in node]
    assert defaults, "the schema has no defaults at all"
    errors = {
        path or "<root>": problems
        for path, node in defaults
        if (problems := api_server.errors(node, node["default"]))
    }
    assert errors == {}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("kind", KIND_NAMES)
def test_crd_is_a_valid_kubernetes_object(kind: str, version: str, crds: dict[str, Any]) -> None:
    kubernetes_validate.validate(crds[kind], version, strict=True)
