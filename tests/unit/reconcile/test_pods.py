"""Why a revision's pods cannot start, read from the kubelet's container statuses.

Proves each kubelet report maps to its reason and an actionable message (the drift-watch
pod's too), and that pods starting normally (or waiting for their init containers), or a
container that recovered, report nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from modelship.reconcile.pods import PodProblem, pod_problem, revision_problem


def pod(*init: dict[str, Any], containers: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    return {
        "metadata": {"name": "wine-abc-1", "labels": {}},
        "status": {"initContainerStatuses": list(init), "containerStatuses": list(containers)},
    }


def waiting(name: str, reason: str, message: str = "", image: str = "triton:1") -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "state": {"waiting": {"reason": reason, "message": message}},
    }


def fetch_failed(exit_code: int, message: str) -> dict[str, Any]:
    return {
        "name": "fetch",
        "image": "triton:1",
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": exit_code, "message": message}},
    }


CONFIGURE_SAID = (
    "Error: serving.dynamicBatching.preferredBatchSizes has 128, above the max_batch_size 64 "
    "model 'wine' was packaged with: lower it to at most 64, or repackage with "
    "--max-batch-size 128"
)


@pytest.mark.parametrize(
    ("observed", "expected"),
    [
        (
            pod(waiting("fetch", "CreateContainerConfigError", 'secret "model-store" not found')),
            PodProblem(
                "SecretNotFound",
                'Secret "model-store" does not exist in namespace ml: create it there, '
                "or fix spec.model.credentialsSecret.",
            ),
        ),
        (
            pod(
                waiting(
                    "fetch",
                    "CreateContainerConfigError",
                    "couldn't find key AWS_SECRET_ACCESS_KEY in Secret ml/model-store",
                )
            ),
            PodProblem(
                "SecretNotFound",
                'Secret "model-store" in namespace ml has no key "AWS_SECRET_ACCESS_KEY": '
                "add it, or fix spec.model.credentialsSecret.",
            ),
        ),
        (
            pod(
                containers=(
                    waiting("triton", "ImagePullBackOff", "Back-off pulling image", "trtn:24"),
                )
            ),
            PodProblem(
                "ImagePullFailed",
                'Image "trtn:24" of container triton cannot be pulled (Back-off pulling image): '
                "fix spec.serving.image or the registry's access.",
            ),
        ),
        (
            pod(fetch_failed(2, "403 Forbidden\n  s3://models/wine/2")),
            PodProblem(
                "ModelFetchFailed",
                "Fetching the model failed (exit code 2): 403 Forbidden s3://models/wine/2. "
                "Check spec.model.uri and its credentials.",
            ),
        ),
        (
            pod(fetch_failed(1, "x" * 300)),
            PodProblem(
                "ModelFetchFailed",
                f"Fetching the model failed (exit code 1): {'x' * 199}…. "
                "Check spec.model.uri and its credentials.",
            ),
        ),
        (
            # `modelship configure` refused a preferred batch size the package cannot take;
            # FallbackToLogsOnError makes its one-line error the termination message.
            pod(
                {
                    "name": "fetch",
                    "image": "triton:1",
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                },
                {
                    **fetch_failed(1, CONFIGURE_SAID),
                    "name": "configure",
                },
            ),
            PodProblem(
                "ConfigureFailed",
                f"Configuring the model for its pods failed (exit code 1): {CONFIGURE_SAID}. "
                "Fix spec.serving to fit the packaged model.",
            ),
        ),
        (
            # drift-watch (mirrored live drift) exiting: restarted, it keeps failing; what it
            # said last stands while it runs again, so the report does not flap.
            pod(
                containers=(
                    {
                        **fetch_failed(1, "Error: the package has no reference profile"),
                        "name": "drift-watch",
                        "state": {"running": {}},
                        "ready": False,
                    },
                )
            ),
            PodProblem(
                "DriftWatchFailed",
                "The drift-watch container failed (exit code 1): Error: the package has no"
                " reference profile. Fix spec.monitoring.drift, or package the model with a"
                " reference profile.",
            ),
        ),
        # A container that recovered and is ready: its last failure is history.
        (
            pod(
                containers=(
                    {**fetch_failed(1, "Error: killed"), "name": "drift-watch", "ready": True},
                )
            ),
            None,
        ),
        # Starting normally, or a config error that is not about a Secret: nothing to report.
        (pod(waiting("fetch", "PodInitializing")), None),
        (pod(waiting("fetch", "CreateContainerConfigError", 'configmap "x" not found')), None),
        ({"metadata": {"name": "wine-abc-1"}}, None),
    ],
)
def test_what_the_kubelet_reports_becomes_a_reason_and_what_to_do(
    observed: dict[str, Any], expected: PodProblem | None
) -> None:
    assert pod_problem(observed, "ml") == expected


def test_a_revision_reports_the_first_pod_with_a_problem() -> None:
    starting = pod(waiting("fetch", "PodInitializing"))
    stuck = pod(waiting("fetch", "CreateContainerConfigError", 'secret "s" not found'))
    expected = pod_problem(stuck, "ml")
    assert expected is not None
    assert revision_problem([starting, stuck], "ml") == expected
    assert revision_problem([starting], "ml") is None
