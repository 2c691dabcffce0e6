"""The operator's RBAC is least-privilege: exactly the rights it needs, no wildcards.

The rules are expanded to (apiGroup, resource) -> verbs and compared whole against
tables written out here, so any right added to or dropped from the chart fails a test.
Namespaced mode must give Roles in exactly the watched namespaces and no cluster-wide
write rights. No role grants anything on Secrets: the operator never reads one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

Rights = dict[tuple[str, str], set[str]]

CHILD_VERBS = {"create", "delete", "get", "list", "patch", "watch"}
READ_VERBS = {"get", "list", "watch"}

# Rights the operator needs wherever it manages ModelDeployments and RetrainJobs.
NAMESPACED_RIGHTS: Rights = {
    ("modelship.dev", "modeldeployments"): {"get", "list", "watch", "patch"},
    ("modelship.dev", "retrainjobs"): {"get", "list", "watch", "patch"},
    ("modelship.dev", "modeldeployments/status"): {"get", "patch"},
    ("modelship.dev", "retrainjobs/status"): {"get", "patch"},
    ("modelship.dev", "modeldeployments/finalizers"): {"update"},
    ("modelship.dev", "retrainjobs/finalizers"): {"update"},
    ("apps", "deployments"): CHILD_VERBS,
    ("", "services"): CHILD_VERBS,
    ("autoscaling", "horizontalpodautoscalers"): CHILD_VERBS,
    ("policy", "poddisruptionbudgets"): CHILD_VERBS,
    ("batch", "jobs"): CHILD_VERBS,
    ("batch", "cronjobs"): CHILD_VERBS,
    ("keda.sh", "scaledobjects"): CHILD_VERBS,
    ("gateway.networking.k8s.io", "httproutes"): CHILD_VERBS,
    ("gateway.networking.k8s.io", "grpcroutes"): CHILD_VERBS,
    ("", "pods"): READ_VERBS,
    ("", "events"): {"create"},
}
CRD_WATCH: Rights = {("apiextensions.k8s.io", "customresourcedefinitions"): {"list", "watch"}}
NAMESPACE_WATCH: Rights = {("", "namespaces"): {"list", "watch"}}
PEERING_VERBS = {"get", "list", "watch", "patch"}
AGGREGATE_TO = "rbac.authorization.k8s.io/aggregate-to-"

# value set -> rights of the ClusterRole, and of the Role in each watched namespace.
EXPECTED_CLUSTER_RIGHTS: dict[str, Rights] = {
    "default": CRD_WATCH | NAMESPACED_RIGHTS,
    "namespaced": CRD_WATCH | NAMESPACE_WATCH,
    "peering": CRD_WATCH | NAMESPACED_RIGHTS | {("kopf.dev", "clusterkopfpeerings"): PEERING_VERBS},
    "namespaced-peering": CRD_WATCH | NAMESPACE_WATCH,
    "service-monitor": CRD_WATCH | NAMESPACED_RIGHTS,
    "everything-set": CRD_WATCH | NAMESPACED_RIGHTS,
}
EXPECTED_ROLE_RIGHTS: dict[str, dict[str, Rights]] = {
    "default": {},
    "namespaced": {"ml-team-a": NAMESPACED_RIGHTS, "ml-team-b": NAMESPACED_RIGHTS},
    "peering": {},
    "namespaced-peering": {
        "ml-team-a": NAMESPACED_RIGHTS | {("kopf.dev", "kopfpeerings"): PEERING_VERBS}
    },
    "service-monitor": {},
    "everything-set": {},
}


def operator_cluster_roles(rendered: Any) -> list[dict[str, Any]]:
    """The operator's ClusterRoles: not those for people, which aggregate into Kubernetes'
    own roles (test_chart_user_roles.py)."""
    return [
        role
        for role in rendered.of_kind("ClusterRole")
        if not any(key.startswith(AGGREGATE_TO) for key in role["metadata"].get("labels", {}))
    ]


def operator_cluster_role(render: Callable[[str], Any], value_set: str) -> dict[str, Any]:
    (role,) = operator_cluster_roles(render(value_set))
    return role


def rights(role: dict[str, Any]) -> Rights:
    """A role's rules as (apiGroup, resource) -> verbs; a pair listed twice fails."""
    expanded: Rights = {}
    for rule in role["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                assert (group, resource) not in expanded, f"{group}/{resource} listed twice"
                expanded[(group, resource)] = set(rule["verbs"])
    return expanded


def test_cluster_role_rights(render: Callable[[str], Any], value_set: str) -> None:
    assert rights(operator_cluster_role(render, value_set)) == EXPECTED_CLUSTER_RIGHTS[value_set]


def test_role_rights_per_watched_namespace(render: Callable[[str], Any], value_set: str) -> None:
    roles = {
        role["metadata"]["namespace"]: rights(role) for role in render(value_set).of_kind("Role")
    }
    assert roles == EXPECTED_ROLE_RIGHTS[value_set]


def test_no_wildcards_no_privilege_escalation_no_secrets(
    render: Callable[[str], Any], value_set: str
) -> None:
    roles = render(value_set).of_kind("ClusterRole") + render(value_set).of_kind("Role")
    for role in roles:
        for rule in role["rules"]:
            for key in ("apiGroups", "resources", "verbs"):
                assert not any("*" in item for item in rule[key]), rule
            assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"]), rule
            assert "rbac.authorization.k8s.io" not in rule["apiGroups"], rule
            assert "secrets" not in rule["resources"], rule


@pytest.mark.parametrize("value_set", ["namespaced", "namespaced-peering"])
def test_namespaced_mode_has_no_cluster_wide_write_rights(
    render: Callable[[str], Any], value_set: str
) -> None:
    cluster_verbs = set().union(*rights(operator_cluster_role(render, value_set)).values())
    assert cluster_verbs <= {"list", "watch"}


def test_bindings_give_the_roles_to_the_operator_service_account(
    render: Callable[[str], Any], value_set: str
) -> None:
    rendered = render(value_set)
    account = rendered.one("ServiceAccount")["metadata"]
    subject = {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    roles = {
        (role["kind"], role["metadata"].get("namespace"), role["metadata"]["name"])
        for role in operator_cluster_roles(rendered) + rendered.of_kind("Role")
    }
    bound = set()
    for binding in rendered.of_kind("ClusterRoleBinding") + rendered.of_kind("RoleBinding"):
        assert binding["subjects"] == [subject]
        ref = binding["roleRef"]
        assert ref["apiGroup"] == "rbac.authorization.k8s.io"
        bound.add((ref["kind"], binding["metadata"].get("namespace"), ref["name"]))
    assert bound == roles
    deployment = rendered.one("Deployment")["spec"]["template"]["spec"]
    assert deployment["serviceAccountName"] == account["name"]
