"""Where a canary's traffic goes: the router (Service replicas or Gateway API routes) and the
Gateway API parents its HTTPRoute and GRPCRoute attach to."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field

from modelship.api.base import (
    DNS_SUBDOMAIN_PATTERN,
    ApiModel,
    DnsLabel,
    DnsSubdomain,
)
from modelship.api.cel import Rule, cel_rules, checked


class TrafficRouter(StrEnum):
    GATEWAY_API = "gatewayAPI"
    REPLICAS = "replicas"


class ParentReference(ApiModel):
    """A Gateway API parent (usually a Gateway) the HTTPRoute attaches to.

    Bounds and patterns are the upstream HTTPRoute CRD's (Gateway API v1.6.1, standard
    channel), so every route we render is one the Gateway API accepts.
    """

    group: str = Field(
        default="gateway.networking.k8s.io",
        max_length=253,
        pattern=rf"^$|{DNS_SUBDOMAIN_PATTERN}",
        description="API group of the parent; empty for the core group.",
    )
    kind: str = Field(
        default="Gateway",
        min_length=1,
        max_length=63,
        pattern=r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$",
        description="Kind of the parent.",
    )
    name: str = Field(min_length=1, max_length=253, description="Name of the parent.")
    namespace: DnsLabel | None = Field(
        default=None, description="Namespace; defaults to the route's."
    )
    section_name: DnsSubdomain | None = Field(
        default=None, description="Listener name on the parent (a DNS-1123 subdomain)."
    )
    port: int | None = Field(
        default=None, ge=1, le=65535, description="Port on the parent (listener port)."
    )

    def parent(self) -> tuple[str, str, str, str]:
        """The object referenced: group, kind, name and namespace ('' for the route's)."""
        return (self.group, self.kind, self.name, self.namespace or "")


# The HTTPRoute CRD's own rules on parentRefs, copied verbatim (namespace is a CEL
# reserved word, escaped as __namespace__ as the API server requires).
_SAME_PARENT = (
    "p1.group == p2.group && p1.kind == p2.kind && p1.name == p2.name && "
    "(((!has(p1.__namespace__) || p1.__namespace__ == '') && "
    "(!has(p2.__namespace__) || p2.__namespace__ == '')) || "
    "(has(p1.__namespace__) && has(p2.__namespace__) && "
    "p1.__namespace__ == p2.__namespace__ ))"
)
SECTION_NAME_NEEDED = (
    "sectionName must be specified when parentRefs includes 2 or more references to the same parent"
)
SECTION_NAME_UNIQUE = (
    "sectionName must be unique when parentRefs includes 2 or more references to the same parent"
)


def _sections_named_alike(refs: list[ParentReference]) -> bool:
    """Every reference to one parent names a section, or none does."""
    return not any(
        bool(other.section_name) != bool(first.section_name)
        for first in refs
        for other in refs
        if other.parent() == first.parent()
    )


def _each_section_once(refs: list[ParentReference]) -> bool:
    """No parent and section is referenced twice."""
    keys = [(ref.parent(), ref.section_name or "") for ref in refs]
    return len(keys) == len(set(keys))


# The Gateway API's own rules on parentRefs (HTTPRoute, GRPCRoute), on the list's value.
PARENT_REF_RULES = (
    Rule(
        rule=(
            f"self.all(p1, self.all(p2, {_SAME_PARENT} ? "
            "((!has(p1.sectionName) || p1.sectionName == '') == "
            "(!has(p2.sectionName) || p2.sectionName == '')) : true))"
        ),
        message=SECTION_NAME_NEEDED,
        holds=_sections_named_alike,
    ),
    Rule(
        rule=(
            f"self.all(p1, self.exists_one(p2, {_SAME_PARENT} && "
            "(((!has(p1.sectionName) || p1.sectionName == '') && "
            "(!has(p2.sectionName) || p2.sectionName == '')) || "
            "(has(p1.sectionName) && has(p2.sectionName) && "
            "p1.sectionName == p2.sectionName))))"
        ),
        message=SECTION_NAME_UNIQUE,
        holds=_each_section_once,
    ),
)
ParentRefs = Annotated[list[ParentReference], AfterValidator(checked(*PARENT_REF_RULES))]


GRPC_NEEDS_GATEWAY = "grpcParentRefs needs the gatewayAPI router"


class CanaryTraffic(ApiModel):
    """How traffic is split between the stable and canary revisions."""

    rules = (
        Rule(
            # has(): an empty list is not stored, so parentRefs may be absent.
            rule=(
                "self.router != 'gatewayAPI' || (has(self.parentRefs) && size(self.parentRefs) > 0)"
            ),
            message="the gatewayAPI router needs at least one parentRef",
            holds=lambda t: t.router != TrafficRouter.GATEWAY_API or bool(t.parent_refs),
        ),
        Rule(
            rule=(
                "self.router == 'gatewayAPI' || !has(self.grpcParentRefs) || "
                "size(self.grpcParentRefs) == 0"
            ),
            message=GRPC_NEEDS_GATEWAY,
            holds=lambda t: t.router == TrafficRouter.GATEWAY_API or not t.grpc_parent_refs,
        ),
    )

    router: TrafficRouter = Field(
        default=TrafficRouter.REPLICAS,
        description=(
            "replicas: split by pod counts behind the stable Service; gatewayAPI: "
            "weighted backends of an HTTPRoute."
        ),
    )
    parent_refs: ParentRefs = Field(
        default_factory=list,
        max_length=32,
        description=(
            "Gateways the HTTPRoute attaches to (gatewayAPI); at most 32, each parent once "
            "(or once per sectionName, then every reference to it names one)."
        ),
        json_schema_extra=cel_rules(*PARENT_REF_RULES),
    )
    grpc_parent_refs: ParentRefs = Field(
        default_factory=list,
        max_length=32,
        description=(
            "Gateways (gRPC listeners) the GRPCRoute for Triton's gRPC port 8001 attaches to "
            "(gatewayAPI); empty: gRPC traffic is not split. Not the HTTPRoute's parents: "
            "a listener accepts only one of an HTTPRoute and a GRPCRoute for a hostname."
        ),
        json_schema_extra=cel_rules(*PARENT_REF_RULES),
    )
