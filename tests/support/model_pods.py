"""What the builders write on every pod that serves or scores a packaged model: the default
image, the model and scratch mounts, the fetch limits, and the fetch init container."""

from __future__ import annotations

from typing import Any

from support.restricted_pods import RESTRICTED_CONTAINER

IMAGE = "ghcr.io/modelship/tritonserver:24.10-modelship-0.1.0"
MODEL_MOUNT = {"name": "model-repository", "mountPath": "/models"}
TMP_MOUNT = {"name": "tmp", "mountPath": "/tmp"}
HOME = {"name": "HOME", "value": "/tmp"}
# The default model.sizeLimit (20Gi) and fetchTimeoutSeconds; the volume holds 64Mi more.
FETCH_LIMITS = ["--max-bytes", "21474836480", "--timeout-seconds", "1800"]
MODEL_VOLUME = {"name": "model-repository", "emptyDir": {"sizeLimit": "21541945344"}}
# Every model pod's volumes, and the mounts of a container that reads the fetched model.
MODEL_VOLUMES = [MODEL_VOLUME, {"name": "tmp", "emptyDir": {}}]
MODEL_READER_MOUNTS = [{**MODEL_MOUNT, "readOnly": True}, TMP_MOUNT]


def fetch_init_container(
    uri: str,
    *extra_args: str,
    image: str = IMAGE,
    env_from: list[dict[str, Any]] | None = None,
    extra_mounts: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    """The `fetch` init container that copies the model at `uri` into /models."""
    container: dict[str, Any] = {
        "name": "fetch",
        "image": image,
        "command": ["modelship"],
        "args": ["fetch", "--uri", uri, "--dest", "/models", *FETCH_LIMITS, *extra_args],
        "env": [HOME],
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    if env_from is not None:
        container["envFrom"] = env_from
    container["volumeMounts"] = [MODEL_MOUNT, TMP_MOUNT, *extra_mounts]
    container["securityContext"] = RESTRICTED_CONTAINER
    return container


def drift_watch_args(revision: str, window: str, threshold: str) -> list[str]:
    """What every drift-watch container of the `fraud` model is started with: the model in
    its /models volume, the revision it watches, the window and the threshold."""
    return [
        "drift-watch",
        "--model-repo",
        "/models",
        "--model",
        "fraud",
        "--revision",
        revision,
        "--window",
        window,
        "--threshold",
        threshold,
    ]
