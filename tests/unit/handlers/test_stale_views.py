"""A view of an object from before our own status write is read anew, never decided on.

The watch-fed indexes can hand a child's event the owner as it was before the status the
operator just wrote (a canary rolled back): deciding from it would bring the canary back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from modelship.core.objects import Ref
from modelship.handlers.runtime import Runtime


class Server:
    """The API server's side: the object as it is now, and the reads asked for."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.reads: list[Ref] = []

    async def patch_status(self, ref: Ref, patch: Mapping[str, Any]) -> dict[str, Any]:
        self.version = str(int(self.version) + 5)
        return self.now()

    async def get(self, ref: Ref) -> dict[str, Any]:
        self.reads.append(ref)
        return self.now()

    def now(self) -> dict[str, Any]:
        return view(self.version, "RolledBack")


def view(version: str, outcome: str = "Analyzing") -> dict[str, Any]:
    return {
        "apiVersion": "modelship.dev/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": "wine", "namespace": "ml", "uid": "u-1", "resourceVersion": version},
        "status": {"outcome": outcome},
    }


def test_a_view_older_than_our_last_write_is_read_again_and_a_newer_one_is_used_as_is() -> None:
    server = Server("35")
    runtime = Runtime(kube=server)  # type: ignore[arg-type]

    async def scenario() -> list[Mapping[str, Any] | None]:
        await runtime.write_status(view("35"), {"outcome": "RolledBack"}, {"outcome": "x"})
        return [await runtime.current(view(version)) for version in ("35", "38", "40", "41")]

    stale, between, written, newer = asyncio.run(scenario())
    # Both predate the write: read anew, they show what it wrote.
    assert stale == view("40", "RolledBack")
    assert between == view("40", "RolledBack")
    # From the write on, the view is the one handed in.
    assert written == view("40")
    assert newer == view("41")
    assert len(server.reads) == 2


def test_before_any_write_the_view_is_used_as_is() -> None:
    server = Server("35")
    runtime = Runtime(kube=server)  # type: ignore[arg-type]
    assert asyncio.run(runtime.current(view("12"))) == view("12")
    assert server.reads == []
