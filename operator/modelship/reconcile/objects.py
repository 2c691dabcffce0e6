"""Plain-data views of the objects decisions read and the actions they return."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

Manifest = Mapping[str, Any]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, order=True)
class Ref:
    """Which object: enough to address it in the API."""

    api_version: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Manifest) -> Ref:
        meta = obj["metadata"]
        return cls(obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"])

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class Create:
    manifest: Manifest

    @property
    def ref(self) -> Ref:
        return Ref.of(self.manifest)


@dataclass(frozen=True)
class Patch:
    ref: Ref
    patch: Mapping[str, Any]


@dataclass(frozen=True)
class Delete:
    ref: Ref


Action = Create | Patch | Delete


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event to post on the owner."""

    type: str  # Normal or Warning
    reason: str
    message: str


def problems(error: ValidationError) -> str:
    """A pydantic error as `field.path: what is wrong` lines joined with '; '."""
    lines = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: {message}" if path else message)
    return "; ".join(lines)


def lenient(model: type[M], data: Any) -> M:
    """`data` parsed as `model`, keeping only the fields it knows (others write there too)."""
    if not isinstance(data, Mapping):
        return model()
    known = {field.alias or name for name, field in model.model_fields.items()}
    try:
        return model.model_validate({k: v for k, v in data.items() if k in known})
    except ValidationError:
        return model()


def status_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """A merge patch from our old status to the new one (keys we dropped become null)."""
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    patch.update({key: value for key, value in new.items() if old.get(key) != value})
    return patch
