"""The admission policy objects: rendered only when asked for and served, valid Kubernetes
(strict, 1.30 and 1.37), named within 63 characters, bound with the actions asked for.

What the policies' CEL decides is replayed in tests/conformance/policy/.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest
from support.chart_labels import LABELS

SERVED = ("admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy",)
POLICY_KINDS = {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
ON = {
    "policy": {
        "allowedImages": ["registry.example.com/ml/", "nvcr.io/nvidia/tritonserver"],
        "allowedServiceAccounts": ["risk-trainer"],
        "admission": {"enabled": True},
    }
}

Template = Callable[..., Any]


def policy_objects(rendered: Any) -> list[dict[str, Any]]:
    return [obj for obj in rendered.objects if obj["kind"] in POLICY_KINDS]


@pytest.mark.parametrize(
    ("values", "api_versions"),
    [({}, SERVED), (ON, ()), (ON, ("admissionregistration.k8s.io/v1",))],
    ids=["off", "not-served", "v1-without-the-policy-kind"],
)
def test_no_policy_unless_enabled_and_served(
    template_with_any_helm: Template, values: dict[str, Any], api_versions: tuple[str, ...]
) -> None:
    assert policy_objects(template_with_any_helm(values, api_versions=api_versions)) == []


def test_a_policy_and_binding_per_kind(template_with_any_helm: Template) -> None:
    objects = policy_objects(template_with_any_helm(ON, api_versions=SERVED))
    assert sorted((obj["kind"], obj["metadata"]["name"]) for obj in objects) == [
        ("ValidatingAdmissionPolicy", "modelship-modeldeployments"),
        ("ValidatingAdmissionPolicy", "modelship-retrainjobs"),
        ("ValidatingAdmissionPolicyBinding", "modelship-modeldeployments"),
        ("ValidatingAdmissionPolicyBinding", "modelship-retrainjobs"),
    ]
    for obj in objects:
        assert obj["metadata"]["labels"] == LABELS
        assert "namespace" not in obj["metadata"]  # both kinds are cluster-scoped


def test_binding_whole(template_with_any_helm: Template) -> None:
    rendered = template_with_any_helm(ON, api_versions=SERVED)
    binding = rendered.named("ValidatingAdmissionPolicyBinding", "modelship-retrainjobs")
    # No matchResources: every namespace, so an object made where no operator watches yet
    # cannot carry a refused image into a namespace a later operator watches.
    assert binding == {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": "modelship-retrainjobs", "labels": LABELS},
        "spec": {"policyName": "modelship-retrainjobs", "validationActions": ["Deny"]},
    }


def test_retrainjob_policy_whole(template_with_any_helm: Template) -> None:
    rendered = template_with_any_helm(ON, api_versions=SERVED)
    policy = rendered.named("ValidatingAdmissionPolicy", "modelship-retrainjobs")
    images = "registry.example.com/ml/, nvcr.io/nvidia/tritonserver"
    image_hint = (
        f" is not an image this cluster allows: name one under {images} (the modelship "
        "chart's policy.allowedImages)"
    )
    account_hint = (
        " is not a ServiceAccount trainers may run as here: leave it out, or name one of "
        "risk-trainer (the modelship chart's policy.allowedServiceAccounts)"
    )
    account = "object.spec.template.serviceAccountName"
    assert policy == {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": "modelship-retrainjobs", "labels": LABELS},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": ["modelship.dev"],
                        "apiVersions": ["v1alpha1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["retrainjobs"],
                    }
                ]
            },
            "variables": [
                {
                    "name": "allowedImages",
                    "expression": '["registry.example.com/ml/","nvcr.io/nvidia/tritonserver"]',
                },
                {"name": "image", "expression": "object.spec.template.image"},
                {"name": "allowedServiceAccounts", "expression": '["risk-trainer"]'},
            ],
            "validations": [
                {
                    "expression": (
                        'request.operation == "UPDATE" && '
                        "oldObject.spec.template.image == variables.image || "
                        'variables.allowedImages.exists(p, p == "*" || (p.endsWith("/") ? '
                        "variables.image.startsWith(p) : variables.image == p || "
                        'variables.image.startsWith(p + ":") || '
                        'variables.image.startsWith(p + "@")))'
                    ),
                    "messageExpression": (
                        f"'spec.template.image \"' + variables.image + '\"' + \"{image_hint}\""
                    ),
                    "message": f"spec.template.image{image_hint}",
                    "reason": "Forbidden",
                },
                {
                    "expression": (
                        f"!has({account}) || "
                        'request.operation == "UPDATE" && '
                        "has(oldObject.spec.template.serviceAccountName) && "
                        f"oldObject.spec.template.serviceAccountName == {account} || "
                        '"*" in variables.allowedServiceAccounts || '
                        f"{account} in variables.allowedServiceAccounts"
                    ),
                    "messageExpression": (
                        "'spec.template.serviceAccountName \"' + "
                        f'{account} + \'"\' + "{account_hint}"'
                    ),
                    "message": f"spec.template.serviceAccountName{account_hint}",
                    "reason": "Forbidden",
                },
            ],
        },
    }


# ValidatingAdmissionPolicy is v1 since 1.30: the chart's other objects are checked from 1.29.
@pytest.mark.parametrize("version", ["1.30", "1.37"])
def test_policy_objects_validate_strictly(template_with_any_helm: Template, version: str) -> None:
    objects = policy_objects(template_with_any_helm(ON, api_versions=SERVED))
    assert len(objects) == 4
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("actions", [["Deny"], ["Warn"], ["Audit"], ["Warn", "Audit"]])
def test_validation_actions_reach_the_bindings(
    template_with_any_helm: Template, actions: list[str]
) -> None:
    values = {"policy": {"admission": {"enabled": True, "validationActions": actions}}}
    rendered = template_with_any_helm(values, api_versions=SERVED)
    bindings = rendered.of_kind("ValidatingAdmissionPolicyBinding")
    assert [binding["spec"]["validationActions"] for binding in bindings] == [actions, actions]


def test_policy_names_fit_with_the_longest_release(template_with_any_helm: Template) -> None:
    objects = policy_objects(template_with_any_helm(ON, "r" * 53, SERVED))
    names = {obj["metadata"]["name"] for obj in objects}
    # The full name is cut so that full name, dash and suffix fit 63 characters.
    assert names == {"r" * 46 + "-modeldeployments", "r" * 51 + "-retrainjobs"}
    for policy in (obj for obj in objects if obj["kind"] == "ValidatingAdmissionPolicy"):
        assert policy["metadata"]["name"] in {
            binding["spec"]["policyName"]
            for binding in objects
            if binding["kind"] == "ValidatingAdmissionPolicyBinding"
        }
