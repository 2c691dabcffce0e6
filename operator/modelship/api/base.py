"""The base every API type stands on: camelCase on the wire, unknown fields refused."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

GROUP = "modelship.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

# A DNS-1123 label, as Kubernetes names of Services, Deployments and containers need.
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# A DNS-1035 label: a DNS-1123 label that starts with a letter, as Service names need.
DNS_1035_LABEL_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
# A DNS-1123 subdomain, as most object names (Secrets, ConfigMaps) may be.
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# Go-style durations as Kubernetes users write them: 30s, 5m, 1h30m.
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"


def _cron_field(value: str) -> str:
    """One cron field as the CronJob controller (robfig/cron) parses it: a list of `*`, `?`,
    values or ranges, each with an optional step; values in the field's bounds."""
    item = rf"(\*|\?|{value}(-{value})?)(/[1-9][0-9]*)?"
    return rf"{item}(,{item})*"


# Five-field cron (minute, hour, day of month, month, day of week; names in any case), or a
# macro such as @daily: what the API server accepts in a CronJob's schedule, so that a
# schedule the CronJob would be refused for is refused here already. (A range whose start
# passes its end, such as 30-10, is left to the CronJob.)
CRON_PATTERN = (
    r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|"
    + r"\s+".join(
        _cron_field(value)
        for value in (
            r"[0-5]?[0-9]",
            r"([01]?[0-9]|2[0-3])",
            r"(0?[1-9]|[12][0-9]|3[01])",
            r"(0?[1-9]|1[0-2]|(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))",
            r"(0?[0-7]|(?i:sun|mon|tue|wed|thu|fri|sat))",
        )
    )
    + r")$"
)
SHA256_PATTERN = r"^[a-f0-9]{64}$"

DnsLabel = Annotated[str, Field(pattern=DNS_LABEL_PATTERN, min_length=1, max_length=63)]
DnsSubdomain = Annotated[str, Field(pattern=DNS_SUBDOMAIN_PATTERN, min_length=1, max_length=253)]
Duration = Annotated[str, Field(pattern=DURATION_PATTERN)]
Cron = Annotated[str, Field(pattern=CRON_PATTERN)]
# A Kubernetes resource quantity ("500m", "2Gi", 4), with the pattern Kubernetes' own
# schemas give resource.Quantity.
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
Quantity = int | Annotated[str, Field(pattern=QUANTITY_PATTERN)]


class ApiModel(BaseModel):
    """Base of all API types: camelCase field names, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The object as it appears in YAML: camelCase, unset optional fields omitted."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def list_map(*keys: str) -> dict[str, Any]:
    """``json_schema_extra`` for a list of objects that the API server merges (server-side
    apply, strategic merge) item by item, identified by ``keys``, and keeps unique by them."""
    return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": list(keys)}
