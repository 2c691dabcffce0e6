"""What the test helpers holding a running Triton share."""

from __future__ import annotations

from dataclasses import dataclass

from modelship_serving.triton.server import TritonServer


@dataclass(frozen=True)
class TritonBacked:
    """A started Triton; subclasses add what they know about it."""

    server: TritonServer

    @property
    def http(self) -> str:
        """host:port of its HTTP endpoint."""
        return self.server.started_endpoints.http
