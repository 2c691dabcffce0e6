"""Drift on live traffic: Triton's trace flags and the drift-watch sidecar of a serving pod.

Triton's own request tracing (level TENSORS) samples one request in `sampleEvery` and
writes its input tensors to a memory-backed volume shared with the sidecar, which reads,
deletes and counts them (`modelship drift-watch`). Tracing lives in Triton's core, so it
covers every backend alike, the native onnxruntime one included. Nothing is added to the
request path beyond Triton's own sampling.

Experimental and off unless drift.sampleEvery is set: Triton 24.10 (2.51) corrupts
requests and crashes under concurrent load with input tracing on (measured:
hack/bench/RESULTS.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelship.api.model_deployment import ModelDeployment
from modelship.api.monitoring import DriftMonitoring
from modelship.builders import defaults
from modelship.builders.pod import HOME_ENV, model_mounts
from modelship.builders.pod_security import container_security_context
from modelship.builders.revision import Revision
from modelship.core.names import DRIFT_WATCH_CONTAINER


@dataclass(frozen=True)
class LiveDrift:
    """The drift settings of a pod that watches live traffic, and its sampling."""

    drift: DriftMonitoring
    sample_every: int


TRACE_MOUNT: dict[str, Any] = {
    "name": defaults.DRIFT_TRACE_VOLUME,
    "mountPath": defaults.DRIFT_TRACE_PATH,
}


def live_drift(md: ModelDeployment) -> LiveDrift | None:
    """The drift settings when the serving pods watch live traffic (drift.sampleEvery set)."""
    drift = md.spec.monitoring.drift if md.spec.monitoring is not None else None
    if drift is None or drift.sample_every is None:
        return None
    return LiveDrift(drift, drift.sample_every)


def triton_trace_args(
    sample_every: int,
    trace_file: str = defaults.DRIFT_TRACE_FILE,
    log_frequency: int = defaults.DRIFT_TRACE_LOG_FREQUENCY,
    budget: int = defaults.DRIFT_TRACE_BUDGET,
) -> list[str]:
    """Triton flags that trace the input tensors of one request in ``sample_every`` to
    TRACE_FILE.0, TRACE_FILE.1, ..., one file per ``log_frequency`` traces."""
    return [
        f"--trace-config=triton,file={trace_file}",
        f"--trace-config=triton,log-frequency={log_frequency}",
        "--trace-config=level=TENSORS",
        f"--trace-config=rate={sample_every}",
        # Until the sidecar grants more: bounded even if it never starts.
        f"--trace-config=count={budget}",
    ]


def drift_watch_container(live: LiveDrift, revision: Revision, image: str) -> dict[str, Any]:
    """The sidecar that turns the traces into per-feature drift metrics."""
    drift = live.drift
    return {
        "name": DRIFT_WATCH_CONTAINER,
        "image": image,
        "command": ["modelship"],
        "args": [
            *drift_watch_args(drift, revision),
            "--trace-file",
            defaults.DRIFT_TRACE_FILE,
            "--metrics-port",
            str(defaults.DRIFT_METRICS_PORT),
            "--triton-http",
            f"127.0.0.1:{defaults.HTTP_PORT}",
            "--trace-budget",
            str(defaults.DRIFT_TRACE_BUDGET),
        ],
        "env": [dict(HOME_ENV)],
        "ports": [
            {
                "name": "drift-metrics",
                "containerPort": defaults.DRIFT_METRICS_PORT,
                "protocol": "TCP",
            }
        ],
        "livenessProbe": {
            "httpGet": {"path": "/metrics", "port": "drift-metrics"},
            **defaults.LIVENESS_PROBE,
        },
        "resources": {key: dict(value) for key, value in defaults.DRIFT_WATCH_RESOURCES.items()},
        "volumeMounts": model_mounts(TRACE_MOUNT),
        "securityContext": container_security_context(),
    }


def drift_watch_args(drift: DriftMonitoring, revision: Revision) -> list[str]:
    """`modelship drift-watch` judging ``revision``'s model (in the model repository) over the
    window and threshold of ``drift``: what every drift-watch, traced or mirrored, is told."""
    return [
        "drift-watch",
        "--model-repo",
        defaults.MODEL_REPOSITORY_PATH,
        "--model",
        revision.model.name,
        "--revision",
        revision.name,
        "--window",
        drift.window,
        "--threshold",
        f"{drift.threshold:g}",
    ]


def trace_volume() -> dict[str, Any]:
    """The memory-backed volume the traces pass through."""
    return {
        "name": defaults.DRIFT_TRACE_VOLUME,
        "emptyDir": {"medium": "Memory", "sizeLimit": defaults.DRIFT_TRACE_SIZE_LIMIT},
    }
