"""The base every API type stands on: camelCase on the wire, unknown fields refused."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from modelship.api.cel import Rule, add_rules, broken_rules

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
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration(text: str) -> timedelta:
    """An API Duration ("1m30s", "500ms") as a timedelta."""
    return timedelta(
        seconds=sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))
    )


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

# Bounds of strings, chosen to fit real use; every string a CEL rule reads must have one,
# or the API server estimates the rule as if the string filled the whole request.
URI_MAX_LENGTH = 2048
IMAGE_MAX_LENGTH = 1024
DURATION_MAX_LENGTH = 32
CRON_MAX_LENGTH = 256
ARG_MAX_LENGTH = 4096
MESSAGE_MAX_LENGTH = 32768  # as metav1.Condition's message
# A container's command or arguments: at most 64, each at most ARG_MAX_LENGTH characters.
Args = Annotated[list[Annotated[str, Field(max_length=ARG_MAX_LENGTH)]], Field(max_length=64)]
# Kubernetes stores replica counts, ports and the like as int32.
INT32_MAX = 2**31 - 1
NonNegativeInt32 = Annotated[int, Field(ge=0, le=INT32_MAX)]
PositiveInt32 = Annotated[int, Field(ge=1, le=INT32_MAX)]
# A share of requests in whole percent: traffic to a canary, copies to a drift watch.
Percent = Annotated[int, Field(ge=1, le=100)]
# A run's deadline (Job activeDeadlineSeconds): at least a minute, as an int32.
DeadlineSeconds = Annotated[int, Field(ge=60, le=INT32_MAX)]

# A model digest as `modelship package` prints it.
Sha256 = Annotated[str, Field(pattern=SHA256_PATTERN, max_length=64)]
DnsLabel = Annotated[str, Field(pattern=DNS_LABEL_PATTERN, min_length=1, max_length=63)]
DnsSubdomain = Annotated[str, Field(pattern=DNS_SUBDOMAIN_PATTERN, min_length=1, max_length=253)]
Duration = Annotated[str, Field(pattern=DURATION_PATTERN, max_length=DURATION_MAX_LENGTH)]
Cron = Annotated[str, Field(pattern=CRON_PATTERN, max_length=CRON_MAX_LENGTH)]
# A container image reference: what kubelet pulls. Kubernetes refuses an empty image and
# surrounding whitespace; no valid reference contains whitespace at all.
IMAGE_PATTERN = r"^\S+$"
Image = Annotated[str, Field(pattern=IMAGE_PATTERN, min_length=1, max_length=IMAGE_MAX_LENGTH)]
# A label value (node labels such as nvidia.com/gpu.product): at most 63 characters.
LABEL_VALUE_PATTERN = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
LabelValue = Annotated[str, Field(pattern=LABEL_VALUE_PATTERN, max_length=63)]
# A qualified name (label and taint keys, condition types): an optional DNS subdomain
# prefix and '/', then at most 63 characters.
QUALIFIED_NAME_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$"
)
QualifiedName = Annotated[str, Field(pattern=QUALIFIED_NAME_PATTERN, min_length=1, max_length=316)]


def uri_pattern(*schemes: str) -> str:
    """A URI with one of ``schemes``; pvc://CLAIM/PATH needs CLAIM to be a claim's name
    (a DNS-1123 subdomain), which the pod's volume would otherwise be refused for.

    No user info, query string or fragment: the spec is stored, shown by kubectl and copied
    into children, so a password or a presigned URL's signature must not be in it (a pod
    gets a presigned URL from the credentials Secret instead).
    """
    others = [scheme for scheme in schemes if scheme != "pvc"]
    # An authority (possibly with a path), or none and a path (file:///x).
    rest = r"([^/?#@]+(/[^?#]*)?|/[^?#]+)"
    alternatives = [f"({'|'.join(others)})://{rest}"] if others else []
    if "pvc" in schemes:
        claim = DNS_SUBDOMAIN_PATTERN.removeprefix("^").removesuffix("$")
        alternatives.append(f"pvc://{claim}(/[^?#]*)?")
    return rf"^({'|'.join(alternatives)})$"


MODEL_URI_PATTERN = uri_pattern("s3", "gs", "az", "https?", "pvc", "file")
# Outputs are written, so no http(s).
OUTPUT_URI_PATTERN = uri_pattern("s3", "gs", "az", "pvc", "file")
HTTP_URL_PATTERN = uri_pattern("https?")
# Where a model or a table is read from, and where outputs are written: scheme, claim and
# no secrets checked by the pattern, length bounded for the CEL rules that read them.
ModelUri = Annotated[str, Field(pattern=MODEL_URI_PATTERN, max_length=URI_MAX_LENGTH)]
OutputUri = Annotated[str, Field(pattern=OUTPUT_URI_PATTERN, max_length=URI_MAX_LENGTH)]
# Where training data lives, for lineage only (never read): any scheme (lakefs, dvc, bq ...),
# with the same rule against credentials, since it is copied into status and history.
DATA_URI_PATTERN = uri_pattern("[a-z][a-z0-9+.-]*")
DataUri = Annotated[str, Field(pattern=DATA_URI_PATTERN, max_length=URI_MAX_LENGTH)]
# A service's base URL (Prometheus): http(s) only, same rules and bound.
HttpUrl = Annotated[str, Field(pattern=HTTP_URL_PATTERN, max_length=URI_MAX_LENGTH)]

# A Kubernetes resource quantity ("500m", "2Gi", 4), as the pattern Kubernetes' own schemas
# give resource.Quantity, without the minus sign: requests and limits are never negative.
QUANTITY_PATTERN = (
    r"^\+?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
# strict: a string that fails the pattern must not be read as a number instead.
Quantity = (
    Annotated[int, Field(ge=0, strict=True)]
    | Annotated[str, Field(pattern=QUANTITY_PATTERN, max_length=64)]
)

_BINARY_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL_SUFFIXES = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}


def quantity_value(quantity: int | str) -> Decimal:
    """The exact amount a quantity stands for (``"500m"`` is 0.5, ``"1Ki"`` is 1024)."""
    if isinstance(quantity, int):
        return Decimal(quantity)
    match = re.fullmatch(r"([+-]?[0-9.]+)([eE][+-]?[0-9.]+|[KMGTPE]i|[numkMGTPE])?", quantity)
    if match is None:
        raise ValueError(f"{quantity!r} is not a quantity")
    number, suffix = Decimal(match[1]), match[2] or ""
    if suffix in _BINARY_SUFFIXES:
        return number * _BINARY_SUFFIXES[suffix]
    if suffix in _DECIMAL_SUFFIXES:
        return number.scaleb(_DECIMAL_SUFFIXES[suffix])
    return number.scaleb(int(Decimal(suffix[1:])))


class ApiModel(BaseModel):
    """Base of all API types: camelCase field names, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        json_schema_extra=add_rules,
    )
    # Cross-field rules: the CRD's x-kubernetes-validations and the Python check below.
    rules: ClassVar[tuple[Rule, ...]] = ()

    @model_validator(mode="after")
    def _rules_hold(self) -> Self:
        broken = broken_rules(self)
        if broken:
            raise ValueError("; ".join(broken))
        return self

    def to_wire(self) -> dict[str, Any]:
        """The object as it appears in YAML: camelCase, unset optional fields omitted."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def list_map(*keys: str) -> dict[str, Any]:
    """``json_schema_extra`` for a list of objects that the API server merges (server-side
    apply, strategic merge) item by item, identified by ``keys``, and keeps unique by them."""
    return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": list(keys)}
