"""An offline replay of how kube-apiserver admits a request under a ValidatingAdmissionPolicy.

For one CREATE or UPDATE of a custom resource it does what the API server's validating
admission policy plugin does (k8s.io/apiserver pkg/admission/plugin/policy/validating):

1. the policy's matchConstraints.resourceRules decide whether it applies (group, version,
   resource and operation; subresources are never named here, so never matched);
2. `object` is the new object and `oldObject` the stored one (null on CREATE), both after
   the CRD's structural defaulting, their properties escaped as Kubernetes escapes them
   (the same conversion as the CRD rules get, upstream_crd.to_cel); `request` is the
   AdmissionRequest, `params` is null (no paramKind), `namespaceObject` the namespace;
3. `variables.<name>` are the policy's variables, each evaluated in order (the API server
   evaluates them lazily and caches them; ours have no side effects, so eager evaluation
   gives the same values);
4. every validation must evaluate to true; false refuses with its messageExpression (or,
   when that is not a string, its message); an error refuses too, as failurePolicy Fail
   does. The binding's validationActions say whether a refusal denies or only warns.

CEL is evaluated with cel-python, as the CRD rule tests do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import celpy

Manifest = dict[str, Any]
Evaluate = Callable[[str, Mapping[str, Any]], Any]
ToCel = Callable[[Manifest, Any], Any]
ApplyDefaults = Callable[[Manifest, Any], Any]


@dataclass(frozen=True)
class Request:
    """One write of a custom resource, as the API server sees it."""

    operation: str  # CREATE or UPDATE
    group: str
    version: str
    resource: str
    kind: str
    obj: Manifest
    old: Manifest | None = None
    username: str = "jane@example.com"


@dataclass(frozen=True)
class Decision:
    """What the policy says about a request: refused (with messages), warned, or let pass."""

    matched: bool
    refusals: list[str] = field(default_factory=list)
    denied: bool = False
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Replay:
    """The CEL evaluator and CRD conversions the replay is built on (upstream_crd.py)."""

    evaluate: Evaluate
    to_cel: ToCel
    apply_defaults: ApplyDefaults


def matches(policy: Manifest, request: Request) -> bool:
    for rule in policy["spec"]["matchConstraints"]["resourceRules"]:
        if (
            _allows(rule["apiGroups"], request.group)
            and _allows(rule["apiVersions"], request.version)
            and _allows(rule["resources"], request.resource)
            and _allows(rule["operations"], request.operation)
        ):
            return True
    return False


def _allows(listed: list[str], value: str) -> bool:
    return "*" in listed or value in listed


def admission_request(request: Request) -> dict[str, Any]:
    """The AdmissionRequest the `request` variable is bound to."""
    meta = request.obj["metadata"]
    return {
        "kind": {"group": request.group, "version": request.version, "kind": request.kind},
        "resource": {
            "group": request.group,
            "version": request.version,
            "resource": request.resource,
        },
        "name": meta["name"],
        "namespace": meta.get("namespace", "default"),
        "operation": request.operation,
        "userInfo": {"username": request.username},
        "dryRun": False,
    }


def admit(
    replay: Replay, policy: Manifest, binding: Manifest, schema: Manifest, request: Request
) -> Decision:
    """The policy's decision on ``request``; ``schema`` is the CRD's openAPIV3Schema."""
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert policy["spec"]["failurePolicy"] == "Fail"
    assert "paramKind" not in policy["spec"]
    if not matches(policy, request):
        return Decision(matched=False)
    new = replay.apply_defaults(schema, request.obj)
    old = None if request.old is None else replay.apply_defaults(schema, request.old)
    namespace = request.obj["metadata"].get("namespace", "default")
    activation: dict[str, Any] = {
        "object": replay.to_cel(schema, new),
        "oldObject": None if old is None else replay.to_cel(schema, old),
        "request": celpy.json_to_cel(admission_request(request)),
        "params": None,
        "namespaceObject": celpy.json_to_cel(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        ),
    }
    variables: dict[str, Any] = {}
    for variable in policy["spec"].get("variables", []):
        activation["variables"] = _map(variables)
        variables[variable["name"]] = replay.evaluate(variable["expression"], activation)
    activation["variables"] = _map(variables)
    refusals = []
    for validation in policy["spec"]["validations"]:
        try:
            verdict = replay.evaluate(validation["expression"], activation)
        except Exception as error:  # failurePolicy Fail: an error refuses
            refusals.append(f"{validation['expression']}: {error}")
            continue
        if not isinstance(verdict, (bool, celpy.celtypes.BoolType)):
            refusals.append(f"{validation['expression']} is no bool: {verdict!r}")
        elif not verdict:
            refusals.append(_message(replay, validation, activation))
    actions = binding["spec"]["validationActions"]
    return Decision(
        matched=True,
        refusals=refusals,
        denied=bool(refusals) and "Deny" in actions,
        warnings=refusals if "Warn" in actions else [],
    )


def _map(values: Mapping[str, Any]) -> Any:
    return celpy.celtypes.MapType({celpy.celtypes.StringType(k): v for k, v in values.items()})


def _message(replay: Replay, validation: Manifest, activation: Mapping[str, Any]) -> str:
    if "messageExpression" in validation:
        try:
            message = replay.evaluate(validation["messageExpression"], activation)
        except Exception:  # the API server falls back to `message` too
            message = None
        # cel-python gives a plain str for a concatenation, a StringType otherwise.
        if isinstance(message, str) and message.strip():
            return str(message)
    return str(validation.get("message", validation["expression"]))
