"""The ClusterRoles for people: `<fullname>-view` and `<fullname>-edit`, aggregated into
Kubernetes' own view, edit and admin roles, compared whole.

Kubernetes aggregates its `view` role into `edit` and `edit` into `admin`, so the view
role's label reaches all three; the edit role carries both edit and admin labels. No role
here writes status (only the operator does) or touches anything but modelship's kinds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from support.chart_labels import LABELS

KINDS = ["modeldeployments", "retrainjobs"]
STATUS = ["modeldeployments/status", "retrainjobs/status"]
READ = ["get", "list", "watch"]


def user_roles(rendered: Any) -> dict[str, dict[str, Any]]:
    return {
        role["metadata"]["name"]: role
        for role in rendered.of_kind("ClusterRole")
        if any("/aggregate-to-" in key for key in role["metadata"]["labels"])
    }


def test_view_and_edit_roles_whole(render: Callable[[str], Any]) -> None:
    assert user_roles(render("default")) == {
        "modelship-view": {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {
                "name": "modelship-view",
                "labels": LABELS | {"rbac.authorization.k8s.io/aggregate-to-view": "true"},
            },
            "rules": [{"apiGroups": ["modelship.dev"], "resources": KINDS + STATUS, "verbs": READ}],
        },
        "modelship-edit": {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {
                "name": "modelship-edit",
                "labels": LABELS
                | {
                    "rbac.authorization.k8s.io/aggregate-to-edit": "true",
                    "rbac.authorization.k8s.io/aggregate-to-admin": "true",
                },
            },
            "rules": [
                {
                    "apiGroups": ["modelship.dev"],
                    "resources": KINDS,
                    "verbs": [*READ, "create", "update", "patch", "delete"],
                },
                {"apiGroups": ["modelship.dev"], "resources": STATUS, "verbs": READ},
            ],
        },
    }


def test_user_roles_come_in_every_mode_and_are_bound_to_nobody(
    render: Callable[[str], Any], value_set: str
) -> None:
    rendered = render(value_set)
    assert set(user_roles(rendered)) == {"modelship-view", "modelship-edit"}
    bound = {
        binding["roleRef"]["name"]
        for binding in rendered.of_kind("ClusterRoleBinding") + rendered.of_kind("RoleBinding")
    }
    assert not bound & set(user_roles(rendered))


def test_user_roles_can_be_turned_off(template_with_any_helm: Callable[..., Any]) -> None:
    rendered = template_with_any_helm({"userRoles": {"enabled": False}})
    assert user_roles(rendered) == {}
    assert len(rendered.of_kind("ClusterRole")) == 1  # the operator's own


def test_user_role_names_fit_with_the_longest_release(
    template_with_any_helm: Callable[..., Any],
) -> None:
    rendered = template_with_any_helm({}, "r" * 53)
    names = sorted(user_roles(rendered))
    # <release>-modelship is 63 characters already: it is cut to make room for the suffix.
    assert names == ["r" * 53 + "-mode-edit", "r" * 53 + "-mode-view"]
    assert all(len(name) <= 63 for name in names)
