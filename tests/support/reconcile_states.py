"""Observed states for the decision tests: plain dicts, as the API server has them."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from support.custom_resources import model_deployment_body

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LATER = datetime(2026, 1, 2, 4, 0, 0, tzinfo=UTC)
UID = "0b5c7a52-0000-4000-8000-000000000001"
# A nightly batch job of spec.batch.
NIGHTLY = {
    "name": "nightly",
    "schedule": "0 2 * * *",
    "input": {"uri": "s3://data/in.parquet"},
    "output": {"uri": "s3://data/out-{run}.parquet"},
}


def md_body(version: str = "1", generation: int = 1, **spec: Any) -> dict[str, Any]:
    return model_deployment_body(uid=UID, generation=generation, version=version, **spec)


def as_live(manifest: dict[str, Any], available: bool = False) -> dict[str, Any]:
    """A created manifest as the API server returns it: defaults and status added."""
    live = copy.deepcopy(manifest)
    live["metadata"] |= {"uid": f"uid-{manifest['metadata']['name']}", "generation": 1}
    if manifest["kind"] == "Service":
        live["spec"] |= {"clusterIP": "10.0.0.7", "type": "ClusterIP"}
    if manifest["kind"] == "Deployment":
        live["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"] = "/dev/x"
        replicas = live["spec"].get("replicas", 1)
        count = replicas if available else 0
        live["status"] = {
            "observedGeneration": 1,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": count,
            "availableReplicas": count,
        }
    return live


def first_drift(
    at: str, source: str, features: list[tuple[str, float, bool]], message: str
) -> dict[str, Any]:
    """status.drift after the first drifted check, at ``at``, of ``source``; ``features``:
    (name, PSI, drifted) each."""
    return {
        "drifted": True,
        "checkedAt": at,
        "source": source,
        "consecutive": 1,
        "since": at,
        "features": [
            {"name": name, "psi": psi, "drifted": drifted} for name, psi, drifted in features
        ],
        "message": message,
    }
