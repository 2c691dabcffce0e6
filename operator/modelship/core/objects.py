"""Plain-data views of Kubernetes objects, and the actions a decision returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Manifest = Mapping[str, Any]


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
