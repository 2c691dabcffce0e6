"""The operator's own Prometheus metrics.

Per-object series (readiness, conditions, batch jobs, drift) carry the object's kind,
namespace and name, so their number grows with the objects the operator manages and nothing
else: condition types and reasons are the fixed set in modelship.reconcile.reasons, batch
job names are bounded by the spec, and drift features by status.drift's bound (16). A drift
series' `source` is the kind of check ("batch"), not the run: a Job name there would start
new series with every run. They are set from the status each reconcile decides
and removed when the object is deleted, so that no series outlives its object.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RECONCILES = Counter(
    "modelship_reconciles_total",
    "Reconciles run, by kind and by what triggered them.",
    ["kind", "trigger"],
)
RECONCILE_ERRORS = Counter(
    "modelship_reconcile_errors_total",
    "Reconciles that failed and will be retried, by kind and error.",
    ["kind", "error"],
)
RECONCILE_SECONDS = Histogram(
    "modelship_reconcile_duration_seconds",
    "Time one reconcile takes, gather to status write.",
    ["kind"],
)
WRITES = Counter(
    "modelship_api_writes_total",
    "Objects created, patched or deleted, and status writes.",
    ["kind", "verb"],
)
MANAGED = Gauge(
    "modelship_managed_objects",
    "Custom resources the operator manages, by kind.",
    ["kind"],
)
READY = Gauge(
    "modelship_resource_ready",
    "1 when the object's Ready condition is True, else 0.",
    ["kind", "namespace", "name"],
)
CONDITION = Gauge(
    "modelship_resource_condition",
    "Always 1: the status and reason each condition of the object has now.",
    ["kind", "namespace", "name", "type", "status", "reason"],
)
BATCH_FAILED = Gauge(
    "modelship_batch_job_failed",
    "1 when the newest finished run of a ModelDeployment's batch job failed, else 0.",
    ["namespace", "name", "batch_job"],
)
DRIFT_PSI = Gauge(
    "modelship_drift_psi",
    "Population stability index of an input feature against the model's reference profile,"
    " in the last drift check (the features with the highest PSI).",
    ["namespace", "name", "feature", "source"],
)
DRIFT_DETECTED = Gauge(
    "modelship_drift_detected",
    "1 when the last drift check of a ModelDeployment's inputs found a feature drifted, else 0.",
    ["namespace", "name", "source"],
)

# The series of each object (kind, namespace, name) and the uid that set them, so that a
# changed status or a deletion removes the old ones, and the late deletion of an object
# does not take the series of a new one of the same name.
_Series = tuple[Gauge, tuple[str, ...]]
_Key = tuple[str, str, str]
_series_of: dict[_Key, tuple[str, set[_Series]]] = {}


def observe_status(body: Mapping[str, Any], status: Mapping[str, Any]) -> None:
    """Set the object's series from the status the operator decided (its wire form)."""
    meta = body["metadata"]
    kind, namespace, name = body["kind"], meta["namespace"], meta["name"]
    values: dict[_Series, float] = {}
    conditions = status.get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    values[(READY, (kind, namespace, name))] = 1.0 if ready else 0.0
    for condition in conditions:
        labels = (kind, namespace, name, *(str(condition.get(k, "")) for k in _CONDITION_KEYS))
        values[(CONDITION, labels)] = 1.0
    for batch in status.get("batch") or []:
        values[(BATCH_FAILED, (namespace, name, str(batch.get("name", ""))))] = _failed(batch)
    if drift := status.get("drift"):
        source = str(drift.get("source", "")).partition("/")[0]
        values[(DRIFT_DETECTED, (namespace, name, source))] = 1.0 if drift.get("drifted") else 0.0
        for feature in drift.get("features") or []:
            labels = (namespace, name, str(feature.get("name", "")), source)
            values[(DRIFT_PSI, labels)] = float(feature.get("psi", 0.0))
    _replace((kind, namespace, name), meta["uid"], values)


def forget(body: Mapping[str, Any]) -> None:
    """The object is gone: drop its series."""
    meta = body["metadata"]
    key = (body["kind"], meta["namespace"], meta["name"])
    if key in _series_of and _series_of[key][0] == meta["uid"]:
        _replace(key, meta["uid"], {})


_CONDITION_KEYS = ("type", "status", "reason")


def _failed(batch: Mapping[str, Any]) -> float:
    failure, success = batch.get("lastFailureTime"), batch.get("lastSuccessfulTime")
    if failure is None:
        return 0.0
    if success is None:
        return 1.0
    return 1.0 if _instant(failure) > _instant(success) else 0.0


def _instant(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _replace(key: _Key, uid: str, values: Mapping[_Series, float]) -> None:
    _, before = _series_of.pop(key, ("", set()))
    for gauge, labels in before - values.keys():
        gauge.remove(*labels)
    for (gauge, labels), value in values.items():
        gauge.labels(*labels).set(value)
    if values:
        _series_of[key] = (uid, set(values))


def serve(address: str, port: int) -> None:
    """Serve /metrics from a background thread."""
    start_http_server(port, addr=address)
