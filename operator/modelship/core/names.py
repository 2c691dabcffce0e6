"""Names the operator writes on its children and reads back: labels, annotations, containers.

Defined once here; the builders write them and gather, decide and the handlers read them.
"""

from typing import Final

# Labels.
NAME: Final = "app.kubernetes.io/name"
INSTANCE: Final = "app.kubernetes.io/instance"
COMPONENT: Final = "app.kubernetes.io/component"
MANAGED_BY: Final = "app.kubernetes.io/managed-by"
PART_OF: Final = "app.kubernetes.io/part-of"
DEPLOYMENT: Final = "modelship.dev/deployment"
REVISION: Final = "modelship.dev/revision"
RETRAIN_JOB: Final = "modelship.dev/retrain-job"
BATCH_JOB: Final = "modelship.dev/batch-job"
# On a RetrainJob's Jobs: what started a training run; the run a validation Job scores.
TRIGGER: Final = "modelship.dev/trigger"
VALIDATES: Final = "modelship.dev/validates"
MODEL_VERSION: Final = "modelship.dev/model-version"
# Pods of a Job carry its name in this label (Kubernetes 1.27+); the Job controller sets it.
JOB_NAME_LABEL: Final = "batch.kubernetes.io/job-name"

# Annotations.
MODEL_URI_ANNOTATION: Final = "modelship.dev/model-uri"
MODEL_SHA256_ANNOTATION: Final = "modelship.dev/model-sha256"
LINEAGE_ANNOTATION: Final = "modelship.dev/lineage"
# What the operator set last time on a child, as `kubectl apply` keeps it.
LAST_APPLIED_ANNOTATION: Final = "modelship.dev/last-applied"

# Label values.
MANAGER: Final = "modelship"
SERVER_NAME: Final = "triton"
# app.kubernetes.io/component values.
SERVER: Final = "server"
AUTOSCALER: Final = "autoscaler"
ROUTER: Final = "router"
DISRUPTION_BUDGET: Final = "disruption-budget"
BATCH: Final = "batch"
TRAINER: Final = "trainer"
PREDICTION_GATE: Final = "prediction-gate"
VALIDATION: Final = "validation"
# The pod that receives the Gateway's mirrored copies of requests and counts their drift.
DRIFT_WATCH: Final = "drift-watch"

# Containers.
FETCH_CONTAINER: Final = "fetch"
CONFIGURE_CONTAINER: Final = "configure"
TRITON_CONTAINER: Final = "triton"
SCORE_CONTAINER: Final = "score"
TRAINER_CONTAINER: Final = "trainer"
COMPARE_CONTAINER: Final = "compare"
EVALUATE_CONTAINER: Final = "evaluate"
DRIFT_WATCH_CONTAINER: Final = "drift-watch"
