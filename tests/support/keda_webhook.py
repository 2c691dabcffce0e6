"""KEDA's ScaledObject admission webhook, replayed offline: the checks that need no cluster.

Ported from kedacore/keda `apis/keda/v1alpha1/scaledobject_webhook.go` (with
`CheckReplicaCountBoundsAreValid` and `CheckFallbackValid` from scaledobject_types.go
and `ValidateTriggers` from scaletriggers_types.go), read at v2.20.1-117-g8b4f083ca,
the line of the vendored CRD v2.20.2. Each check returns KEDA's own error text, or None.

What the webhook reads from the cluster is passed in: the target workload (the
Deployment modelship renders for it), the HPAs and other ScaledObjects of its
namespace. LimitRanges are taken as absent, the stricter case: a LimitRange with a
default cpu/memory request would let KEDA accept a trigger our API refuses.
Not replayed: `spec.advanced.scalingModifiers` formulas (expr-lang; modelship sets none).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

Obj = Mapping[str, Any]

MAX_LABEL_VALUE_LENGTH = 63
DEFAULT_HPA_MIN_REPLICAS = 1
DEFAULT_HPA_MAX_REPLICAS = 100
RESOURCE_TRIGGERS = ("cpu", "memory")
_SUFFIXES = {
    "": Decimal(1),
    **{s: Decimal(10) ** e for s, e in (("n", -9), ("u", -6), ("m", -3), ("k", 3), ("M", 6))},
    **{s: Decimal(10) ** e for s, e in (("G", 9), ("T", 12), ("P", 15), ("E", 18))},
    **{f"{s}i": Decimal(2) ** (10 * (i + 1)) for i, s in enumerate("KMGTPE")},
}


def scaled_object(**spec: Any) -> dict[str, Any]:
    """A ScaledObject KEDA admits: churn in ml, scaling Deployment churn-a on CPU between 1
    and 4 replicas; `spec` adds or replaces fields of its spec."""
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "churn", "namespace": "ml"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "churn-a"},
            "minReplicaCount": 1,
            "maxReplicaCount": 4,
            "triggers": [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "70"}}],
            **spec,
        },
    }


def hpa_name(so: Obj) -> str:
    """getHpaName: spec.advanced.horizontalPodAutoscalerConfig.name, else keda-hpa-<name>."""
    config = ((so["spec"].get("advanced") or {}).get("horizontalPodAutoscalerConfig")) or {}
    return config.get("name") or f"keda-hpa-{so['metadata']['name']}"


def verify_name(so: Obj) -> str | None:
    name = so["metadata"]["name"]
    if len(name) > MAX_LABEL_VALUE_LENGTH:
        return f"scaledobject name {name!r} is {len(name)} characters long; must be no more than 63"
    hpa = hpa_name(so)
    if len(hpa) > MAX_LABEL_VALUE_LENGTH:
        return (
            f"HPA name {hpa!r} derived from scaledobject is {len(hpa)} characters long; "
            "must be no more than 63 characters"
        )
    return None


def verify_replica_count(so: Obj) -> str | None:
    """CheckReplicaCountBoundsAreValid."""
    spec = so["spec"]
    minimum = 0
    if spec.get("minReplicaCount") is not None:
        minimum = spec["minReplicaCount"] or DEFAULT_HPA_MIN_REPLICAS  # GetHPAMinReplicas
    maximum = spec.get("maxReplicaCount", DEFAULT_HPA_MAX_REPLICAS)
    if minimum > maximum:
        return f"MinReplicaCount={minimum} must be less than MaxReplicaCount={maximum}"
    idle = spec.get("idleReplicaCount")
    if idle is not None and idle >= minimum:
        return f"IdleReplicaCount={idle} must be less than MinReplicaCount={minimum}"
    return None


def verify_fallback(so: Obj) -> str | None:
    """CheckFallbackValid (modelship sets no scalingModifiers)."""
    fallback = so["spec"].get("fallback")
    if fallback is None:
        return None
    if fallback.get("failureThreshold", 0) < 0 or fallback.get("replicas", 0) < 0:
        return "FailureThreshold & Replicas must both be greater than or equal to 0"
    if all(t["type"] in RESOURCE_TRIGGERS for t in so["spec"]["triggers"]):
        return (
            "at least one trigger (that is not cpu or memory) has to have the `AverageValue` "
            "type for the fallback to be enabled"
        )
    return None


def verify_triggers(so: Obj) -> str | None:
    """ValidateTriggers."""
    triggers = so["spec"].get("triggers") or []
    if not triggers:
        return "no triggers defined in the ScaledObject/ScaledJob"
    names: set[str] = set()
    for trigger in triggers:
        if trigger.get("useCachedMetrics") and trigger["type"] in (*RESOURCE_TRIGGERS, "cron"):
            return f'property "useCachedMetrics" is not supported for {trigger["type"]!r} scaler'
        if name := trigger.get("name"):
            if name in names:
                return f"triggerName {name!r} is defined multiple times"
            names.add(name)
    return None


def verify_cpu_memory_scalers(so: Obj, target: Obj | None) -> str | None:
    """verifyCPUMemoryScalers against the target workload (Deployment or StatefulSet)."""
    spec = so["spec"]
    triggers = spec["triggers"]
    resource_triggers = [t for t in triggers if t["type"] in RESOURCE_TRIGGERS]
    if not resource_triggers:
        return None
    ref = spec["scaleTargetRef"]
    if ref.get("kind", "Deployment") not in ("Deployment", "StatefulSet"):
        return None
    if target is None:  # getFromCacheOrDirect answers NotFound
        return f'deployments.apps "{ref["name"]}" not found'
    containers = target["spec"]["template"]["spec"]["containers"]
    for trigger in resource_triggers:
        wanted = (trigger.get("metadata") or {}).get("containerName", "")
        for container in containers:
            if wanted and container["name"] != wanted:
                continue
            if not _resource_set(container.get("resources") or {}, trigger["type"]):
                return (
                    f"the scaledobject has a {trigger['type']} trigger but the container "
                    f"{container['name']} doesn't have the {trigger['type']} request defined"
                )
        if len(resource_triggers) == len(triggers) and not spec.get("minReplicaCount"):
            return (
                "scaledobject has only cpu/memory triggers AND minReplica is 0 "
                "(scale to zero doesn't work in this case)"
            )
    return None


def verify_hpas(so: Obj, hpas: Sequence[Obj]) -> str | None:
    """verifyHpas: another HPA (not owned by this ScaledObject) scales the same workload."""
    ref = so["spec"]["scaleTargetRef"]
    for hpa in hpas:
        annotations = hpa["metadata"].get("annotations") or {}
        if annotations.get("validations.keda.sh/hpa-ownership") == "false":
            continue
        theirs = hpa["spec"]["scaleTargetRef"]
        if (_group_kind(theirs), theirs["name"]) != (_group_kind(ref), ref["name"]):
            continue
        owned = any(
            owner.get("kind") == "ScaledObject" and owner.get("name") == so["metadata"]["name"]
            for owner in hpa["metadata"].get("ownerReferences") or []
        )
        if not owned:
            return (
                f"the workload '{ref['name']}' of type '{_gvk(ref)}' is already managed by "
                f"the hpa '{hpa['metadata']['name']}'"
            )
    return None


def verify_scaled_objects(so: Obj, others: Sequence[Obj]) -> str | None:
    """verifyScaledObjects: another ScaledObject scales the workload or owns the HPA name."""
    ref = so["spec"]["scaleTargetRef"]
    name = so["metadata"]["name"]
    for other in others:
        if other["metadata"]["name"] == name:
            continue
        theirs = other["spec"]["scaleTargetRef"]
        if (_group_kind(theirs), theirs["name"]) == (_group_kind(ref), ref["name"]):
            return (
                f"the workload '{ref['name']}' of type '{_gvk(ref)}' is already managed by "
                f"the ScaledObject '{other['metadata']['name']}'"
            )
        if hpa_name(other) == hpa_name(so):
            return (
                f"the HPA '{hpa_name(so)}' is already managed by the ScaledObject "
                f"'{other['metadata']['name']}'"
            )
    return None


def refusal(
    so: Obj,
    target: Obj | None,
    hpas: Sequence[Obj] = (),
    scaled_objects: Sequence[Obj] = (),
) -> str | None:
    """KEDA's answer to creating or updating `so`: its error, or None when it admits it."""
    checks: list[Callable[[], str | None]] = [
        lambda: verify_scaled_objects(so, scaled_objects),
        lambda: verify_cpu_memory_scalers(so, target),
        lambda: verify_hpas(so, hpas),
        lambda: verify_replica_count(so),
        lambda: verify_fallback(so),
        lambda: verify_name(so),
        lambda: verify_triggers(so),
    ]
    return next((error for check in checks if (error := check()) is not None), None)


def _resource_set(resources: Obj, name: str) -> bool:
    """isWorkloadResourceSet: a request or a limit of that resource above zero."""
    amounts = [_quantity((resources.get(part) or {}).get(name)) for part in ("requests", "limits")]
    return any(amount is not None and amount > 0 for amount in amounts)


def _quantity(value: Any) -> Decimal | None:
    if value is None:
        return None
    text = str(value)
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if suffix and text.endswith(suffix):
            number, scale = text[: -len(suffix)], _SUFFIXES[suffix]
            break
    else:
        number, scale = text, Decimal(1)
    try:
        return Decimal(number) * scale
    except InvalidOperation:
        return None


def _group_kind(ref: Obj) -> tuple[str, str]:
    group = ref.get("apiVersion", "apps/v1").rpartition("/")[0]
    return group, ref.get("kind", "Deployment")


def _gvk(ref: Obj) -> str:
    api_version = ref.get("apiVersion", "apps/v1")
    return f"{api_version}.{ref.get('kind', 'Deployment')}"


def scaler_problem(trigger: Obj) -> str | None:
    """What KEDA reports on the ScaledObject (Ready=False) when it parses a trigger's metadata.

    Not admission: KEDA accepts the object and its scaler fails. Ported from
    pkg/scalers/cpu_memory_scaler.go and prometheus_scaler.go (typed config: an empty
    value is a missing one). A trigger type not ported here is a problem, not a pass.
    """
    kind, metadata = trigger["type"], trigger.get("metadata") or {}
    metric_type = trigger.get("metricType", "")

    def missing(*names: str) -> str | None:
        absent = [name for name in names if not metadata.get(name)]
        return f"missing required parameter {absent[0]!r} in [triggerMetadata]" if absent else None

    if kind in RESOURCE_TRIGGERS:
        if metric_type not in ("Utilization", "AverageValue"):
            return (
                f"unknown metric type: {metric_type}, "
                "allowed values are 'Utilization' or 'AverageValue'"
            )
        if error := missing("value"):
            return error
        if metric_type == "Utilization" and not _is_int32(metadata["value"]):
            return f"strconv.ParseInt: parsing {metadata['value']!r}: invalid syntax"
        return None
    if kind == "prometheus":
        if metric_type == "Utilization":
            return "'Utilization' metric type is unsupported for external metrics"
        if error := missing("serverAddress", "query", "threshold"):
            return error
        if _quantity(metadata["threshold"]) is None:
            return f"strconv.ParseFloat: parsing {metadata['threshold']!r}: invalid syntax"
        return None
    return f"the {kind!r} scaler is not replayed offline: port its metadata checks"


def _is_int32(text: str) -> bool:
    try:
        return -(2**31) <= int(text, 10) < 2**31
    except ValueError:
        return False
