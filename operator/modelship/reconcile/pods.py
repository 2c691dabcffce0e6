"""Why a revision's pods cannot start, read from what the kubelet reports on them.

The operator never reads Secrets: a missing credentials Secret shows on the pod,
where the kubelet leaves the fetch container waiting with
``CreateContainerConfigError``. The same goes for an image that cannot be
pulled, a model fetch that fails, and `modelship configure` refusing serving
settings the packaged model cannot take. The drift-watch pod (mirrored live drift)
is read the same way, its drift-watch container failing (CrashLoopBackOff) too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from modelship.core.names import CONFIGURE_CONTAINER, DRIFT_WATCH_CONTAINER, FETCH_CONTAINER
from modelship.reconcile import reasons
from modelship.reconcile.conditions import Cause

# Longer kubelet or termination messages are cut, so a condition stays readable.
MESSAGE_LIMIT = 200

_SECRET_MISSING = re.compile(r'secret "(?P<secret>[^"]+)" not found')
_KEY_MISSING = re.compile(r"couldn't find key (?P<key>\S+) in Secret [^/\s]+/(?P<secret>\S+)")
_IMAGE_PULL = {"ErrImagePull", "ImagePullBackOff"}


class PodProblem(Cause):
    """Why a pod cannot start, and what to do about it."""


def revision_problem(pods: Iterable[Mapping[str, Any]], namespace: str) -> PodProblem | None:
    """The first problem among a revision's pods, if any pod has one."""
    return next((found for pod in pods if (found := pod_problem(pod, namespace))), None)


def pod_problem(pod: Mapping[str, Any], namespace: str) -> PodProblem | None:
    status = pod.get("status") or {}
    containers = [
        *status.get("initContainerStatuses", []),
        *status.get("containerStatuses", []),
    ]
    for container in containers:
        if (found := _container_problem(container, namespace)) is not None:
            return found
    return None


def _container_problem(container: Mapping[str, Any], namespace: str) -> PodProblem | None:
    name = container.get("name", "")
    waiting = (container.get("state") or {}).get("waiting") or {}
    reason, said = waiting.get("reason"), str(waiting.get("message") or "")
    if reason == "CreateContainerConfigError":
        if match := _SECRET_MISSING.search(said):
            return PodProblem(
                reasons.SECRET_NOT_FOUND,
                f'Secret "{match["secret"]}" does not exist in namespace {namespace}: '
                "create it there, or fix spec.model.credentialsSecret.",
            )
        if match := _KEY_MISSING.search(said):
            return PodProblem(
                reasons.SECRET_NOT_FOUND,
                f'Secret "{match["secret"]}" in namespace {namespace} has no key '
                f'"{match["key"]}": add it, or fix spec.model.credentialsSecret.',
            )
    if reason in _IMAGE_PULL:
        return PodProblem(
            reasons.IMAGE_PULL_FAILED,
            f'Image "{container.get("image", "")}" of container {name} cannot be pulled '
            f"({_short(said or reason)}): fix spec.serving.image or the registry's access.",
        )
    # A ready container has recovered: the failure its lastState keeps is history.
    if name in _STEPS and not container.get("ready"):
        reason, failed, fix = _STEPS[name]
        states = (container.get("state") or {}, container.get("lastState") or {})
        for terminated in (state.get("terminated") or {} for state in states):
            if terminated.get("exitCode", 0) != 0:
                said = _short(str(terminated.get("message") or terminated.get("reason") or ""))
                return PodProblem(
                    reason,
                    f"{failed} (exit code {terminated['exitCode']}): {said}. {fix}",
                )
    return None


# The containers whose exit says why a pod cannot start (the init containers that prepare
# the model, and drift-watch, which exits when it cannot judge), and how that is reported.
_STEPS = {
    FETCH_CONTAINER: (
        reasons.MODEL_FETCH_FAILED,
        "Fetching the model failed",
        "Check spec.model.uri and its credentials.",
    ),
    CONFIGURE_CONTAINER: (
        reasons.CONFIGURE_FAILED,
        "Configuring the model for its pods failed",
        "Fix spec.serving to fit the packaged model.",
    ),
    DRIFT_WATCH_CONTAINER: (
        reasons.DRIFT_WATCH_FAILED,
        "The drift-watch container failed",
        "Fix spec.monitoring.drift, or package the model with a reference profile.",
    ),
}


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"
