"""Types shared by both kinds, or by a kind's spec and status: Kubernetes-shaped pieces,
GPU requests, conditions, lineage."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, field_validator, model_validator

from modelship.api.base import (
    MESSAGE_MAX_LENGTH,
    QUALIFIED_NAME_PATTERN,
    ApiModel,
    DataUri,
    DnsLabel,
    DnsSubdomain,
    LabelValue,
    QualifiedName,
    Quantity,
    quantity_value,
)
from modelship.api.cel import Rule, cel_rules, checked


class ObjectMeta(ApiModel):
    """The part of Kubernetes object metadata modelship reads; the rest is kept as is."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(description="Name of the object, unique in its namespace.")
    namespace: str = Field(default="default", description="Namespace of the object.")
    uid: str | None = Field(default=None, description="Unique id set by the API server.")
    generation: int | None = Field(
        default=None, description="Sequence number of the spec, set by the API server."
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Labels of the object.")
    annotations: dict[str, str] = Field(
        default_factory=dict, description="Annotations of the object."
    )


def name_rule(pattern: str, message: str) -> Rule:
    """The rule a kind puts on its own name: at most 63 characters matching ``pattern``
    (the API server itself only asks for a DNS subdomain)."""
    return Rule(
        rule=f"size(self.metadata.name) <= 63 && self.metadata.name.matches('{pattern}')",
        message=message,
        holds=lambda obj: (
            len(obj.metadata.name) <= 63 and re.fullmatch(pattern, obj.metadata.name) is not None
        ),
    )


# Resources a container names: cpu, memory, ephemeral-storage, hugepages-2Mi, vendor/x.
RESOURCE_NAMES_MAX = 16


def overcommitted(requests: dict[str, int | str], limits: dict[str, int | str]) -> list[str]:
    """Extended resources (vendor.example/x, hugepages-*) requested other than exactly at their
    limit: Kubernetes cannot overcommit them and refuses such a pod."""
    return sorted(
        name
        for name, request in requests.items()
        if ("/" in name and not name.startswith("kubernetes.io/")) or name.startswith("hugepages-")
        if name not in limits or quantity_value(request) != quantity_value(limits[name])
    )


def requests_above_limits(
    requests: dict[str, int | str], limits: dict[str, int | str]
) -> list[str]:
    """The resources whose request exceeds their limit, which the API server refuses."""
    return sorted(
        name
        for name, request in requests.items()
        if name in limits and quantity_value(request) > quantity_value(limits[name])
    )


NODE_SELECTOR_KEYS = (
    "nodeSelector keys must be label names such as nvidia.com/gpu.product "
    "(an optional DNS subdomain and '/', then at most 63 letters, digits, '-', '_', '.')"
)


NODE_SELECTOR_KEYS_RULE = Rule(
    # A raw string: CEL has no \. escape.
    rule=f"self.all(k, size(k) <= 316 && k.matches(r'{QUALIFIED_NAME_PATTERN}'))",
    message=NODE_SELECTOR_KEYS,
    holds=lambda selector: all(
        len(key) <= 316 and re.fullmatch(QUALIFIED_NAME_PATTERN, key) for key in selector
    ),
)

# Node labels pods must match: keys label names, values label values, at most 32 of them.
NodeSelector = Annotated[
    dict[str, LabelValue],
    Field(max_length=32, json_schema_extra=cel_rules(NODE_SELECTOR_KEYS_RULE)),
    AfterValidator(checked(NODE_SELECTOR_KEYS_RULE)),
]


class ResourceRequirements(ApiModel):
    """Compute resources of a container, as in a Kubernetes pod spec.

    A request above its limit is refused here (by `modelship render` and the operator);
    the CRD cannot compare quantities, so `kubectl apply` accepts it and the API server
    then refuses the pod.
    """

    requests: dict[str, Quantity] = Field(
        default_factory=dict,
        max_length=RESOURCE_NAMES_MAX,
        description=(
            "Minimum resources the container is scheduled with, e.g. cpu: 500m. Quantities "
            "are not negative and at most 64 characters; a request may not exceed its limit."
        ),
    )
    limits: dict[str, Quantity] = Field(
        default_factory=dict,
        max_length=RESOURCE_NAMES_MAX,
        description="Maximum resources the container may use, e.g. memory: 4Gi.",
    )

    @model_validator(mode="after")
    def _requests_within_limits(self) -> ResourceRequirements:
        above = requests_above_limits(dict(self.requests), dict(self.limits))
        if above:
            raise ValueError(
                f"requests of {', '.join(above)} exceed their limits: lower the request "
                "or raise the limit"
            )
        fixed = overcommitted(dict(self.requests), dict(self.limits))
        if fixed:
            raise ValueError(
                f"requests of {', '.join(fixed)} must equal their limits (extended resources "
                "cannot be overcommitted): set the limit to the request, or request GPUs "
                "with gpu.count"
            )
        return self


# An optional resources block; resources_field says whose it is.
Resources = ResourceRequirements | None


def resources_field(container: str) -> Any:
    """The field of ``container``'s resources block: its CPU and memory; unset by default."""
    return Field(default=None, description=f"CPU and memory of {container}.")


# How a toleration matches a taint's value, and the effects a taint may have.
TolerationOperator = Literal["Exists", "Equal"]
TaintEffect = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


# A taint key: empty (with operator Exists: every taint) or a label name.
TOLERATION_KEY_PATTERN = rf"^$|{QUALIFIED_NAME_PATTERN}"
TOLERATION_SECONDS_NEED_NO_EXECUTE = "a toleration's tolerationSeconds needs effect NoExecute"
TOLERATION_EXISTS_WITHOUT_VALUE = "a toleration with operator Exists must not set value"
TOLERATION_WITHOUT_KEY = (
    "a toleration without key must use operator Exists (it then matches every taint)"
)


class Toleration(ApiModel):
    """A Kubernetes toleration: lets pods schedule onto nodes with a matching taint.

    Checked as the API server checks a pod's tolerations (key a label name, value a
    label value, and the rules below), so a pod is never refused for one.
    """

    rules = (
        Rule(
            rule=(
                "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')"
            ),
            message=TOLERATION_SECONDS_NEED_NO_EXECUTE,
            holds=lambda t: t.toleration_seconds is None or t.effect == "NoExecute",
        ),
        Rule(
            rule=(
                "!has(self.operator) || self.operator != 'Exists' || "
                "!has(self.value) || self.value == ''"
            ),
            message=TOLERATION_EXISTS_WITHOUT_VALUE,
            holds=lambda t: t.operator != "Exists" or not t.value,
        ),
        Rule(
            rule=(
                "(has(self.key) && self.key != '') || "
                "(has(self.operator) && self.operator == 'Exists')"
            ),
            message=TOLERATION_WITHOUT_KEY,
            holds=lambda t: bool(t.key) or t.operator == "Exists",
        ),
    )

    key: str | None = Field(
        default=None,
        max_length=316,
        pattern=TOLERATION_KEY_PATTERN,
        description="Taint key the toleration applies to (a label name such as nvidia.com/gpu).",
    )
    operator: TolerationOperator | None = Field(
        default=None, description="Exists (any value) or Equal (the given value; the default)."
    )
    value: LabelValue | None = Field(
        default=None, description="Taint value matched with Equal (a label value, at most 63)."
    )
    effect: TaintEffect | None = Field(
        default=None, description="Taint effect to match; empty matches all effects."
    )
    toleration_seconds: int | None = Field(
        default=None,
        ge=0,
        description="How long a NoExecute taint is tolerated before eviction (effect NoExecute).",
    )


# The tolerations added to a pod: at most 32.
Tolerations = Annotated[list[Toleration], Field(max_length=32)]


# MIG profiles as the NVIDIA device plugin names them: 1g.5gb, 3g.40gb, ...
MIG_PROFILE_PATTERN = r"^[0-9]+g\.[0-9]+gb$"


class GpuSpec(ApiModel):
    """NVIDIA GPUs for each pod."""

    rules = (
        Rule(
            rule="(!has(self.product) && !has(self.migProfile)) || has(self.count)",
            message="gpu.product and gpu.migProfile need gpu.count",
            holds=lambda g: (g.product is None and g.mig_profile is None) or g.count is not None,
        ),
    )

    count: int | None = Field(
        default=None,
        ge=1,
        le=16,
        description=(
            "GPUs (or MIG slices of migProfile) each pod requests, as nvidia.com/gpu "
            "limits. Needed when product or migProfile is set."
        ),
    )
    product: LabelValue | None = Field(
        default=None,
        description=(
            "GPU model to schedule onto, matched against the node label "
            "nvidia.com/gpu.product (e.g. NVIDIA-H100-80GB-HBM3); a label value."
        ),
    )
    mig_profile: str | None = Field(
        default=None,
        pattern=MIG_PROFILE_PATTERN,
        max_length=32,
        description=(
            "Multi-Instance GPU profile such as 1g.10gb; requests the resource "
            "nvidia.com/mig-<profile> instead of whole GPUs."
        ),
    )


class Lineage(ApiModel):
    """Where a model version came from, recorded with every revision."""

    data_version: str | None = Field(
        default=None,
        max_length=253,
        description="Version of the training data (e.g. a DVC or lakeFS ref).",
    )
    data_uri: DataUri | None = Field(
        default=None,
        description="Where the training data lives: any scheme, no credentials in it.",
    )
    code_ref: str | None = Field(
        default=None,
        max_length=253,
        description="Commit or tag of the training code (e.g. git SHA).",
    )
    parameters: dict[str, Annotated[str, Field(max_length=1024)]] = Field(
        default_factory=dict,
        max_length=64,
        description="Training hyperparameters, as strings (at most 64, values up to 1024).",
    )


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


# metav1.Condition's reason: CamelCase, starting with a letter.
CONDITION_REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
ConditionReason = Annotated[
    str, Field(min_length=1, max_length=1024, pattern=CONDITION_REASON_PATTERN)
]


def _message_required(schema: dict[str, Any]) -> None:
    """metav1.Condition requires message (it may be empty); the operator always writes it."""
    schema["required"] = [*schema.get("required", []), "message"]


class Condition(ApiModel):
    """One aspect of an object's state, shaped and bounded like metav1.Condition."""

    model_config = ConfigDict(frozen=True, json_schema_extra=_message_required)

    type: QualifiedName = Field(
        description="Kind of condition, e.g. Ready, Available, Progressing."
    )
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: ConditionReason = Field(description="CamelCase reason for the last transition.")
    message: str = Field(
        default="",
        max_length=MESSAGE_MAX_LENGTH,
        description="What happened, and what to do about it (at most 32768 characters).",
    )
    last_transition_time: datetime = Field(
        description="When status last changed; it does not change when only the message does."
    )
    observed_generation: int | None = Field(
        default=None, ge=0, description="The spec generation this condition was computed from."
    )

    @field_validator("message", mode="before")
    @classmethod
    def _shortened(cls, message: Any) -> Any:
        """A longer message is cut rather than refused: the status must always be writable."""
        if isinstance(message, str) and len(message) > MESSAGE_MAX_LENGTH:
            return message[: MESSAGE_MAX_LENGTH - 1] + "…"
        return message


# A key of a Secret's data, as Kubernetes allows it.
SECRET_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"


class EnvFromSecret(ApiModel):
    """Reference to one key of a Secret."""

    name: DnsSubdomain = Field(description="Name of the Secret, in the object's namespace.")
    key: str = Field(
        min_length=1,
        max_length=253,
        pattern=SECRET_KEY_PATTERN,
        description="Key inside the Secret (letters, digits, '-', '_' and '.').",
    )


# An environment variable's name, as Kubernetes accepts it in a container's env.
ENV_NAME_PATTERN = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"


class EnvVar(ApiModel):
    """An environment variable: a literal value, or a key of a Secret by reference."""

    rules = (
        Rule(
            rule="has(self.value) != has(self.secretKeyRef)",
            message="set exactly one of value or secretKeyRef",
            holds=lambda e: (e.value is None) != (e.secret_key_ref is None),
        ),
    )

    name: str = Field(pattern=ENV_NAME_PATTERN, max_length=1024, description="Variable name.")
    value: str | None = Field(
        default=None,
        max_length=MESSAGE_MAX_LENGTH,
        description="Literal value. Never put credentials here.",
    )
    secret_key_ref: EnvFromSecret | None = Field(
        default=None, description="Take the value from a Secret key (for credentials)."
    )


# Embedded Kubernetes objects whose schema we do not restate.
KubernetesObject = dict[str, Any]
PRESERVE_UNKNOWN: dict[str, Any] = {"x-kubernetes-preserve-unknown-fields": True}

ServiceAccountName = DnsLabel
ConditionType = Literal["Ready", "Available", "Progressing", "Degraded"]
