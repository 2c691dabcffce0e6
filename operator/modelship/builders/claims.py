"""pvc://CLAIM/PATH uris a Job reads: the claims mounted read-only, the uris made file://.

A pod reaches a PersistentVolumeClaim only as a mounted volume, so every pvc:// uri a
container is given becomes the file:// uri of the same path under its claim's mount,
which every modelship CLI (and the trainer contract's MODELSHIP_DATA_URI) accepts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from modelship.builders import defaults

_VOLUME_DIGEST_LENGTH = 10


def claim_and_path(uri: str) -> tuple[str, str] | None:
    """(claim, path inside it) of a pvc://CLAIM/PATH uri; None for other schemes."""
    parts = urlsplit(uri)
    return (parts.netloc, parts.path.lstrip("/")) if parts.scheme == "pvc" else None


def claim_volume_name(claim: str) -> str:
    """A DNS label for a claim's volume: claim names may hold dots and run to 253
    characters, so the name carries a digest of the claim instead of the claim."""
    digest = hashlib.sha256(claim.encode()).hexdigest()[:_VOLUME_DIGEST_LENGTH]
    return f"{defaults.CLAIM_VOLUME_PREFIX}{digest}"


def claim_mount_path(claim: str) -> str:
    return f"{defaults.CLAIM_MOUNT_ROOT}/{claim}"


@dataclass(frozen=True)
class MountedUris:
    """The uris as the container sees them, and the volumes and mounts that make it so."""

    uris: list[str]
    volumes: list[dict[str, Any]] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)


def mount_claims(uris: Sequence[str]) -> MountedUris:
    """Each pvc:// uri rewritten to file:// under its claim's read-only mount (one volume per
    distinct claim, in order of first use); other uris unchanged."""
    rewritten: list[str] = []
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    mounted: set[str] = set()
    for uri in uris:
        found = claim_and_path(uri)
        if found is None:
            rewritten.append(uri)
            continue
        claim, path = found
        rewritten.append(f"file://{claim_mount_path(claim)}/{path}".rstrip("/"))
        if claim in mounted:
            continue
        mounted.add(claim)
        name = claim_volume_name(claim)
        volumes.append(
            {"name": name, "persistentVolumeClaim": {"claimName": claim, "readOnly": True}}
        )
        mounts.append({"name": name, "mountPath": claim_mount_path(claim), "readOnly": True})
    return MountedUris(rewritten, volumes, mounts)
