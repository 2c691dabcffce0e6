"""Types shared by both kinds, or by a kind's spec and status: Kubernetes-shaped pieces,
GPU requests, conditions, lineage."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from modelship.api.base import ApiModel, DnsLabel, DnsSubdomain, Quantity
from modelship.api.cel import Rule, cel_rules


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
    """The CEL rule a kind puts on its own name: at most 63 characters matching ``pattern``
    (the API server itself only asks for a DNS subdomain). :func:`check_name` mirrors it."""
    return Rule(
        rule=f"size(self.metadata.name) <= 63 && self.metadata.name.matches('{pattern}')",
        message=message,
    )


def check_name(name: str, pattern: str, message: str) -> None:
    """ValueError(``message``) unless ``name`` passes :func:`name_rule` (``pattern``)."""
    if len(name) > 63 or not re.fullmatch(pattern, name):
        raise ValueError(message)


class ResourceRequirements(ApiModel):
    """Compute resources of a container, as in a Kubernetes pod spec."""

    requests: dict[str, Quantity] = Field(
        default_factory=dict,
        description="Minimum resources the container is scheduled with, e.g. cpu: 500m.",
    )
    limits: dict[str, Quantity] = Field(
        default_factory=dict,
        description="Maximum resources the container may use, e.g. memory: 4Gi.",
    )


class TolerationOperator(StrEnum):
    EXISTS = "Exists"
    EQUAL = "Equal"


class TaintEffect(StrEnum):
    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


class Toleration(ApiModel):
    """A Kubernetes toleration: lets pods schedule onto nodes with a matching taint."""

    key: str | None = Field(default=None, description="Taint key the toleration applies to.")
    operator: TolerationOperator | None = Field(
        default=None, description="Exists (any value) or Equal (the given value)."
    )
    value: str | None = Field(default=None, description="Taint value matched with Equal.")
    effect: TaintEffect | None = Field(
        default=None, description="Taint effect to match; empty matches all effects."
    )
    toleration_seconds: int | None = Field(
        default=None,
        ge=0,
        description="How long a NoExecute taint is tolerated before eviction.",
    )


# MIG profiles as the NVIDIA device plugin names them: 1g.5gb, 3g.40gb, ...
MIG_PROFILE_PATTERN = r"^[0-9]+g\.[0-9]+gb$"


class GpuSpec(ApiModel):
    """NVIDIA GPUs for each pod."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            Rule(
                rule="(!has(self.product) && !has(self.migProfile)) || has(self.count)",
                message="gpu.product and gpu.migProfile need gpu.count",
            ),
        )
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
    product: str | None = Field(
        default=None,
        description=(
            "GPU model to schedule onto, matched against the node label "
            "nvidia.com/gpu.product (e.g. NVIDIA-H100-80GB-HBM3)."
        ),
    )
    mig_profile: str | None = Field(
        default=None,
        pattern=MIG_PROFILE_PATTERN,
        description=(
            "Multi-Instance GPU profile such as 1g.10gb; requests the resource "
            "nvidia.com/mig-<profile> instead of whole GPUs."
        ),
    )

    @model_validator(mode="after")
    def _count_with_product(self) -> GpuSpec:
        if (self.product is not None or self.mig_profile is not None) and self.count is None:
            raise ValueError("gpu.product and gpu.migProfile need gpu.count")
        return self


class Lineage(ApiModel):
    """Where a model version came from, recorded with every revision."""

    data_version: str | None = Field(
        default=None, description="Version of the training data (e.g. a DVC or lakeFS ref)."
    )
    data_uri: str | None = Field(default=None, description="Where the training data lives.")
    code_ref: str | None = Field(
        default=None, description="Commit or tag of the training code (e.g. git SHA)."
    )
    parameters: dict[str, str] = Field(
        default_factory=dict, description="Training hyperparameters, as strings."
    )


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(ApiModel):
    """One aspect of an object's state, following the Kubernetes API conventions."""

    model_config = ConfigDict(frozen=True)

    type: str = Field(description="Kind of condition, e.g. Ready, Available, Progressing.")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(description="CamelCase reason for the last transition.")
    message: str = Field(default="", description="What happened, and what to do about it.")
    last_transition_time: datetime = Field(
        description="When status last changed; it does not change when only the message does."
    )
    observed_generation: int | None = Field(
        default=None, description="The spec generation this condition was computed from."
    )


class EnvFromSecret(ApiModel):
    """Reference to one key of a Secret."""

    name: DnsSubdomain = Field(description="Name of the Secret, in the object's namespace.")
    key: str = Field(description="Key inside the Secret.")


class EnvVar(ApiModel):
    """An environment variable: a literal value, or a key of a Secret by reference."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            Rule(
                rule="has(self.value) != has(self.secretKeyRef)",
                message="set exactly one of value or secretKeyRef",
            ),
        )
    )

    name: str = Field(pattern=r"^[-._a-zA-Z][-._a-zA-Z0-9]*$", description="Variable name.")
    value: str | None = Field(
        default=None, description="Literal value. Never put credentials here."
    )
    secret_key_ref: EnvFromSecret | None = Field(
        default=None, description="Take the value from a Secret key (for credentials)."
    )

    @model_validator(mode="after")
    def _one_source(self) -> EnvVar:
        if (self.value is None) == (self.secret_key_ref is None):
            raise ValueError("set exactly one of value or secretKeyRef")
        return self


# Embedded Kubernetes objects whose schema we do not restate.
KubernetesObject = dict[str, Any]
PRESERVE_UNKNOWN: dict[str, Any] = {"x-kubernetes-preserve-unknown-fields": True}

ServiceAccountName = DnsLabel
ConditionType = Literal["Ready", "Available", "Progressing", "Degraded"]
