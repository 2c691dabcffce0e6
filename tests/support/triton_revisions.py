"""Two revisions of one ModelDeployment, each a real Triton: names, addresses, endpoints."""

from __future__ import annotations

from dataclasses import dataclass

from modelship.builders import defaults

from support.triton_backed import TritonBacked

NAMESPACE = "ml"
MODEL_DEPLOYMENT = "churn"
# Revision names as the operator makes them (<deployment>-<hash>); pods add two suffixes.
REVISION_NAMES = ("churn-7d9f8c6b5a", "churn-3e1c0b9a27")
ADDRESSES = ("127.0.0.2", "127.0.0.3")
# Triton's metrics settings as the operator starts it (the percentile panels read summaries).
TRITON_ARGS = list(defaults.TRITON_METRICS_CONFIG)


@dataclass(frozen=True)
class Revision(TritonBacked):
    """One revision: the Triton serving it, its name and its pod's name."""

    name: str
    pod: str

    @property
    def metrics_target(self) -> str:
        return self.server.started_endpoints.metrics.removeprefix("http://").removesuffix(
            "/metrics"
        )
