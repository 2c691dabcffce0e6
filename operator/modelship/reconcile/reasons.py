"""Reasons of conditions and Events: CamelCase, one place, so users and alerts can match them."""

from typing import Final

# Condition types.
READY: Final = "Ready"
AVAILABLE: Final = "Available"
PROGRESSING: Final = "Progressing"
DEGRADED: Final = "Degraded"
# Informational: the inputs drifted from the reference profile (status.drift); not in Ready.
DRIFTED: Final = "Drifted"

# The deployment serves its wanted revision with every pod ready.
SERVING: Final = "Serving"
# Pods of the stable revision are up, or none are.
MINIMUM_REPLICAS_AVAILABLE: Final = "MinimumReplicasAvailable"
NO_REPLICAS_AVAILABLE: Final = "NoReplicasAvailable"
# Work in progress: a new revision starts, or the stable one (re)starts pods.
ROLLING_OUT: Final = "RollingOut"
WAITING_FOR_REPLICAS: Final = "WaitingForReplicas"
ROLLOUT_COMPLETE: Final = "RolloutComplete"
# A canary rollout (reasons of Progressing, and of Ready while it is False).
CANARY_STEP: Final = "CanaryStep"  # a step's weight goes to the canary (or waits for a pod)
ANALYZING: Final = "Analyzing"  # a step without pause waits for a passed measurement
PAUSED: Final = "Paused"  # a step holds its weight for its pause
# Before any traffic, the canary's predictions are compared with stable's (a Job runs).
PREDICTION_GATE: Final = "PredictionGate"
PROMOTING: Final = "Promoting"  # every step passed; the canary scales up to take over
ROLLED_BACK: Final = "RolledBack"  # the canary failed; the stable revision serves alone
# Something is wrong, and the message says what to do.
AS_EXPECTED: Final = "AsExpected"
ROLLOUT_FAILED: Final = "RolloutFailed"
INVALID_SPEC: Final = "InvalidSpec"
MODEL_UNRESOLVED: Final = "ModelUnresolved"
NAME_CONFLICT: Final = "NameConflict"
# The API server refused to write a child (422 Invalid, 403 from an admission webhook or policy).
CHILD_REJECTED: Final = "ChildRejected"
# A revision's pods cannot start, as the kubelet reports on them.
SECRET_NOT_FOUND: Final = "SecretNotFound"
IMAGE_PULL_FAILED: Final = "ImagePullFailed"
MODEL_FETCH_FAILED: Final = "ModelFetchFailed"
CONFIGURE_FAILED: Final = "ConfigureFailed"
DRIFT_WATCH_FAILED: Final = "DriftWatchFailed"  # the drift-watch container exited in error
# A canary failed more measurements than its failure limit and was rolled back.
CANARY_FAILED: Final = "CanaryFailed"

# Drifted's reasons besides Drifted itself.
NO_DRIFT: Final = "NoDrift"  # the last check found no feature drifted
AWAITING_DRIFT_CHECK: Final = "AwaitingDriftCheck"  # no check has finished yet
DRIFT_SUMMARY_UNREADABLE: Final = "DriftSummaryUnreadable"  # a run's summary is not readable

# RetrainJob.
RUN_ACTIVE: Final = "RunActive"
RUN_SUCCEEDED: Final = "RunSucceeded"
RUN_FAILED: Final = "RunFailed"
SCHEDULED: Final = "Scheduled"
WAITING_FOR_RUN: Final = "WaitingForRun"
SUSPENDED: Final = "Suspended"
VALIDATING: Final = "Validating"  # a validation Job scores the candidate against the champion
AWAITING_APPROVAL: Final = "AwaitingApproval"  # validated; promotion Manual waits for approve
CANDIDATE_REJECTED: Final = "CandidateRejected"  # never promoted; its artifact stays
CANDIDATE_PROMOTED: Final = "CandidatePromoted"  # status.promoted names it now
DRIFT_TRIGGERED: Final = "DriftTriggered"  # the target deployment's drift started a run

# Events about what the operator did.
CREATED: Final = "Created"
UPDATED: Final = "Updated"
DELETED: Final = "Deleted"
REVISION_PROMOTED: Final = "RevisionPromoted"
# A canary measurement failed (the message quotes it).
ANALYSIS_FAILED: Final = "AnalysisFailed"
# A person's rollout command (pause, resume, promote, abort, retry) was acted on.
ROLLOUT_COMMAND: Final = "RolloutCommand"
# The newest run of a batch job failed (status.batch[].lastFailureMessage says why).
BATCH_JOB_FAILED: Final = "BatchJobFailed"
