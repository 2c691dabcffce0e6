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


# An API server's refusal can quote the whole object back; a condition and an Event carry
# only its beginning (Events are cut at 1024 bytes by the API server anyway).
MAX_REFUSAL_MESSAGE = 512


@dataclass(frozen=True)
class Refusal:
    """The API server refused to write a child (422 Invalid, 403 from an admission webhook or
    policy): which child, and the server's own words, bounded."""

    ref: Ref
    message: str

    @property
    def explanation(self) -> str:
        """What a status says of it: the server's words and what to do."""
        return (
            f"The API server refused {self.ref}: {self.message.rstrip('.')}. "
            "Fix the spec (or ask who runs the admission policy that refused it); "
            "the operator tries again with back-off."
        )

    @classmethod
    def of(cls, ref: Ref, message: str) -> Refusal:
        if len(message) > MAX_REFUSAL_MESSAGE:
            message = message[: MAX_REFUSAL_MESSAGE - 1] + "…"
        return cls(ref, message)


def true_condition(obj: Manifest, type_: str) -> Manifest | None:
    """The object's `type_` condition when its status is True (a Job's Complete or Failed)."""
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next(
        (c for c in conditions if c.get("type") == type_ and c.get("status") == "True"), None
    )


def terminated(pod: Manifest, container: str) -> Manifest | None:
    """The `terminated` state of the pod's `container` once it has ended (its exit code,
    reason and termination message)."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        ended = (status.get("state") or {}).get("terminated")
        if status.get("name") == container and ended:
            return dict(ended)
    return None
