"""The chart's RBAC is enough for everything the real operator does, as the chart starts it.

The operator runs with the container args `helm template` renders (standalone, and with
peering against the peering object the chart's hook creates) against the emulated API
server while the shared operator scenarios drive it. Every API request it makes is then
authorized against the rendered ClusterRole and Roles the way Kubernetes' RBAC authorizer
matches rules (verb, API group, resource/subresource, namespace). The emulator enforces
no RBAC itself, so this is what shows the least-privilege rules are not too tight; the
unit tests in tests/unit/chart show they are not too wide.

The emulator cannot serve Namespace objects (kmock 0.8 misparses /api/v1/namespaces), so
the operator runs cluster-wide here. The same requests are also authorized against the
namespaced-mode rendering, each cluster-wide list or watch becoming one per watched
namespace and the ClusterKopfPeering a KopfPeering in each, as Kopf does in that mode.
Kopf's own listing of namespaces in that mode is covered by the unit tests only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import scenarios
from support.chart_harness import Obj, helm_template, installed

# One namespace per scenario: they reuse object names.
SCENARIOS = {
    "ml-create": scenarios.create_gives_children_and_ready,
    "ml-version": scenarios.version_change_makes_new_revision,
    "ml-secret": scenarios.missing_secret_is_reported_from_the_pods,
    "ml-retrain": scenarios.model_from_retrain_job,
    "ml-delete": scenarios.deletion_leaves_only_owned_children,
}
MODES = {"standalone": {}, "peering": {"peering": {"enabled": True}}}
CLUSTER_SCOPED = {"customresourcedefinitions", "namespaces", "clusterkopfpeerings"}


@dataclass(frozen=True)
class Request:
    """One API request as RBAC sees it."""

    verb: str
    group: str
    resource: str  # plural, or plural/subresource
    namespace: str | None

    def __str__(self) -> str:
        where = f" in {self.namespace}" if self.namespace else " (cluster)"
        return f"{self.verb} {self.group or 'core'}/{self.resource}{where}"


def as_request(logged: Any) -> Request | None:
    """The RBAC view of a logged request; None for discovery, which every user may read."""
    resource = logged.resource
    if resource is None or not resource.plural:
        return None
    method, named = str(logged.method.value), logged.name is not None
    if method == "GET":
        watching = logged.params.get("watch") in ("true", "1")
        verb = "watch" if watching else "get" if named else "list"
    else:
        verbs = {"POST": "create", "PUT": "update", "PATCH": "patch"}
        verb = verbs.get(method) or ("delete" if named else "deletecollection")
    plural = resource.plural + (f"/{logged.subresource}" if logged.subresource else "")
    return Request(verb, resource.group or "", plural, logged.namespace)


def in_namespaced_mode(request: Request, namespaces: list[str]) -> list[Request]:
    """The requests Kopf makes instead of this one when it watches only `namespaces`."""
    if request.resource == "clusterkopfpeerings":
        return [Request(request.verb, request.group, "kopfpeerings", ns) for ns in namespaces]
    if request.namespace is None and request.resource.split("/")[0] not in CLUSTER_SCOPED:
        return [Request(request.verb, request.group, request.resource, ns) for ns in namespaces]
    return [request]


def operator_roles(rendered: list[Obj]) -> list[tuple[Obj, str | None]]:
    """The roles bound to the operator's ServiceAccount, each with the namespace it holds in
    (None: cluster-wide). Roles bound to nobody, or to users (modelship-edit), grant the
    operator nothing."""
    (deployment,) = [obj for obj in rendered if obj["kind"] == "Deployment"]
    account = (
        deployment["spec"]["template"]["spec"]["serviceAccountName"],
        deployment["metadata"]["namespace"],
    )
    roles = {(obj["kind"], obj["metadata"]["name"]): obj for obj in rendered}
    bound = []
    for binding in rendered:
        if binding["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        subjects = {
            (subject["name"], subject.get("namespace"))
            for subject in binding.get("subjects", [])
            if subject["kind"] == "ServiceAccount"
        }
        if account not in subjects:
            continue
        role = roles[binding["roleRef"]["kind"], binding["roleRef"]["name"]]
        scope = binding["metadata"]["namespace"] if binding["kind"] == "RoleBinding" else None
        bound.append((role, scope))
    return bound


def authorized(request: Request, rendered: list[Obj]) -> bool:
    """Whether a role bound to the operator's ServiceAccount allows the request: a
    ClusterRoleBinding anywhere, a RoleBinding in its own namespace."""
    for role, scope in operator_roles(rendered):
        if scope is not None and scope != request.namespace:
            continue
        for rule in role["rules"]:
            if (
                request.verb in rule["verbs"]
                and request.group in rule["apiGroups"]
                and request.resource in rule["resources"]
            ):
                return True
    return False


@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_request_of_the_operator_is_authorized(mode: str, tmp_path: Path) -> None:
    # Short, as in the operator's own integration tests: some scenarios wait on a resync.
    values = {**MODES[mode], "operator": {"resyncInterval": 1}}
    namespaced = helm_template({**values, "watchNamespaces": sorted(SCENARIOS)}, tmp_path)
    with installed(values, tmp_path) as install:
        for namespace, scenario in SCENARIOS.items():
            scenario(install.cluster, namespace)
        (operator,) = install.replicas
        operator.answers("health", "/healthz")
        assert b"# TYPE" in operator.answers("metrics", "/metrics")
        made = {found for logged in install.operator_requests() if (found := as_request(logged))}

    denied = sorted(str(request) for request in made if not authorized(request, install.rendered))
    assert denied == []
    denied_namespaced = sorted(
        str(instead)
        for request in made
        for instead in in_namespaced_mode(request, sorted(SCENARIOS))
        if not authorized(instead, namespaced)
    )
    assert denied_namespaced == []
    # The scenarios reached the rights that matter most, so the checks above mean something.
    verbs = {(request.verb, request.resource) for request in made}
    assert {("create", "deployments"), ("delete", "deployments"), ("watch", "pods")} <= verbs
    assert not [str(r) for r in made if r.resource == "secrets"], "the operator reads no Secret"
    assert {("patch", "modeldeployments/status"), ("create", "events")} <= verbs
    if mode == "peering":
        assert ("patch", "clusterkopfpeerings") in verbs, "the operator ran without peering"
