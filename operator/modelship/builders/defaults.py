"""Every default the builders apply, in one place.

Builders read the typed spec and these constants; they never write defaults
back into the spec.
"""

from __future__ import annotations

from typing import Any

from modelship_serving.drift_rules import MIN_WINDOW_ROWS

from modelship.api.model_deployment import (
    CanarySpec,
    RolloutSpec,
    RolloutStrategy,
)

# Triton's ports, named as the Services and probes refer to them.
HTTP_PORT = 8000
GRPC_PORT = 8001
METRICS_PORT = 8002

# Where the model repository lives in every pod that serves or scores.
MODEL_REPOSITORY_PATH = "/models"
MODEL_VOLUME = "model-repository"
TMP_PATH = "/tmp"
TMP_VOLUME = "tmp"
# Triton's python backend passes tensors to its stub processes through /dev/shm, which a
# container gets as a 64 MiB tmpfs: too small for large batches or many instances. The
# Triton container gets a memory-backed emptyDir there instead; what it holds counts
# against the pod's memory limit, so the size limit is a ceiling, not a reservation.
SHM_PATH = "/dev/shm"
SHM_VOLUME = "dshm"
SHM_SIZE_LIMIT = "1Gi"
# Room in the model volume beyond the fetch's byte limit: staging directories and the
# packaged config.pbtxt that configure keeps beside the effective one.
MODEL_VOLUME_HEADROOM_BYTES = 64 * 2**20
# A pvc:// model is read from this read-only mount and copied into the repository.
PVC_SOURCE_PATH = "/mnt/model-source"
PVC_SOURCE_VOLUME = "model-source"

# Probes: a large model may take minutes to fetch and load, so startup is generous;
# once started, readiness reacts fast and liveness restarts only a wedged server.
STARTUP_PROBE: dict[str, Any] = {"periodSeconds": 10, "failureThreshold": 60}
READINESS_PROBE: dict[str, Any] = {"periodSeconds": 5, "failureThreshold": 3}
LIVENESS_PROBE: dict[str, Any] = {"periodSeconds": 10, "failureThreshold": 3}
READY_PATH = "/v2/health/ready"
LIVE_PATH = "/v2/health/live"

# NVIDIA device plugin resources and labels.
GPU_RESOURCE = "nvidia.com/gpu"
MIG_RESOURCE_PREFIX = "nvidia.com/mig-"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
# GPU nodes are usually tainted so that only GPU pods land there.
GPU_TOLERATION: dict[str, Any] = {
    "key": GPU_RESOURCE,
    "operator": "Exists",
    "effect": "NoSchedule",
}

# Spread a revision's pods over nodes when the scheduler can.
SPREAD_TOPOLOGY_KEY = "kubernetes.io/hostname"

# At most one serving pod down at a time through voluntary disruptions (drains).
# maxUnavailable rather than minAvailable: a one-replica model would otherwise
# block every node drain.
PDB_MAX_UNAVAILABLE = 1

# Old ReplicaSets a revision's Deployment keeps after in-place serving changes.
DEPLOYMENT_HISTORY_LIMIT = 3

# Batch scoring CronJobs.
BATCH_STARTING_DEADLINE_SECONDS = 600
BATCH_BACKOFF_LIMIT = 2
# pvc:// batch inputs and outputs: their claims are mounted here (the input read-only).
BATCH_INPUT_PATH = "/mnt/batch-input"
BATCH_INPUT_VOLUME = "batch-input"
BATCH_OUTPUT_PATH = "/mnt/batch-output"
BATCH_OUTPUT_VOLUME = "batch-output"
# Claims of pvc:// uris a Job reads (holdouts, candidates, training data), each mounted
# read-only at CLAIM_MOUNT_ROOT/<claim> (see builders/claims.py).
CLAIM_MOUNT_ROOT = "/mnt/claims"
CLAIM_VOLUME_PREFIX = "claim-"
JOB_HISTORY_LIMIT = 3

# Prometheus scrape hints on Triton pods.
SCRAPE_ANNOTATIONS = {
    "prometheus.io/scrape": "true",
    "prometheus.io/port": str(METRICS_PORT),
    "prometheus.io/path": "/metrics",
}

# Window of the rate() queries behind Triton-metric autoscaling.
RATE_WINDOW = "1m"


def canary_settings(rollout: RolloutSpec) -> CanarySpec | None:
    """The canary settings in force: the given ones, or the defaults for strategy Canary."""
    if rollout.strategy != RolloutStrategy.CANARY:
        return None
    return rollout.canary if rollout.canary is not None else CanarySpec()


# Triton's own metrics settings: latency percentiles (the dashboard's p50/p95/p99) come
# only from summaries, which Triton exports only when asked.
TRITON_METRICS_CONFIG = ("--metrics-config=summary_latencies=true",)

# Drift on live traffic (spec.monitoring.drift): Triton traces the inputs of one request in
# sampleEvery into files on a memory-backed volume, and the drift-watch sidecar reads,
# deletes and counts them. Triton writes a file every LOG_FREQUENCY traces and stops tracing
# once the sidecar stops granting it TRACE_BUDGET more traces per poll, so the volume holds
# at most about one budget of traces; its size limit is a last guard.
DRIFT_TRACE_PATH = "/var/run/modelship/traces"
DRIFT_TRACE_FILE = f"{DRIFT_TRACE_PATH}/trace.json"
DRIFT_TRACE_VOLUME = "drift-traces"
DRIFT_TRACE_SIZE_LIMIT = "64Mi"
DRIFT_TRACE_LOG_FREQUENCY = 20
DRIFT_TRACE_BUDGET = 1000
DRIFT_METRICS_PORT = 8003
DRIFT_WATCH_RESOURCES: dict[str, Any] = {
    "requests": {"cpu": "50m", "memory": "192Mi"},
    "limits": {"cpu": "500m", "memory": "512Mi"},
}

# Mirrored live drift (spec.monitoring.drift.mirrorPercent): the Gateway copies a share of the
# routes' requests to one drift-watch pod per ModelDeployment, which answers at once and
# counts their inputs. One replica, replaced (not surged) on a change: one pod holds one
# window. It parses requests as fast as the Gateway mirrors them, hence more CPU than the
# tracing sidecar; what it may not keep up with it drops.
DRIFT_MIRROR_HTTP_PORT = 8004
DRIFT_MIRROR_GRPC_PORT = 8005
DRIFT_MIRROR_RESOURCES: dict[str, Any] = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}
# A live window is judged only once it holds this many rows; the operator passes it to
# drift-watch and takes a smaller window for "not enough traffic yet".
DRIFT_MIN_WINDOW_ROWS = MIN_WINDOW_ROWS
