"""Pieces shared by every pod that holds a model: volumes, init containers, scheduling."""

from __future__ import annotations

import copy
from typing import Any

from modelship.api.base import quantity_value
from modelship.api.common import GpuSpec, ResourceRequirements, Toleration
from modelship.api.model_deployment import ModelDeployment, ModelSource, ServingSpec
from modelship.api.retrain_job import TERMINATION_MESSAGE_PATH
from modelship.builders import defaults
from modelship.builders.claims import claim_and_path
from modelship.builders.pod_security import container_security_context, job_pod_spec
from modelship.builders.revision import ResolvedModel
from modelship.core.names import CONFIGURE_CONTAINER, FETCH_CONTAINER

MODEL_MOUNT: dict[str, Any] = {
    "name": defaults.MODEL_VOLUME,
    "mountPath": defaults.MODEL_REPOSITORY_PATH,
}
READ_ONLY_MODEL_MOUNT = {**MODEL_MOUNT, "readOnly": True}
TMP_MOUNT: dict[str, Any] = {"name": defaults.TMP_VOLUME, "mountPath": defaults.TMP_PATH}
# Libraries that cache under $HOME get a writable one on a read-only root filesystem.
HOME_ENV = {"name": "HOME", "value": defaults.TMP_PATH}


def model_mounts(*more: dict[str, Any]) -> list[dict[str, Any]]:
    """What a container that reads the fetched model mounts: the model repository read-only,
    the writable /tmp, then ``more``."""
    return [dict(READ_ONLY_MODEL_MOUNT), dict(TMP_MOUNT), *(dict(mount) for mount in more)]


def model_volumes(model: ResolvedModel, source: ModelSource) -> list[dict[str, Any]]:
    """The model repository (an emptyDir no larger than the fetch may fill, so a model
    that outgrows it evicts its own pod, not the node's disk), a writable /tmp, and a
    pvc:// source claim."""
    size_limit = str(fetch_max_bytes(source) + defaults.MODEL_VOLUME_HEADROOM_BYTES)
    volumes: list[dict[str, Any]] = [
        {"name": defaults.MODEL_VOLUME, "emptyDir": {"sizeLimit": size_limit}},
        {"name": defaults.TMP_VOLUME, "emptyDir": {}},
    ]
    on_claim = claim_and_path(model.uri)
    if on_claim is not None:
        claim, _ = on_claim
        volumes.append(
            {
                "name": defaults.PVC_SOURCE_VOLUME,
                "persistentVolumeClaim": {"claimName": claim, "readOnly": True},
            }
        )
    return volumes


def fetch_max_bytes(source: ModelSource) -> int:
    """`model.sizeLimit` in whole bytes."""
    return int(quantity_value(source.size_limit))


def fetched_model_job_pod(
    md: ModelDeployment,
    model: ResolvedModel,
    fetch_image: str | None,
    step: dict[str, Any],
    volumes: list[dict[str, Any]] | None = None,
    **placement: Any,
) -> dict[str, Any]:
    """The pod spec of a Job over ``model``: fetch it (with ``fetch_image``, else the serving
    image), then run ``step``; the model's volumes, then ``volumes``; then ``placement``."""
    return job_pod_spec(
        initContainers=[
            fetch_container(fetch_image or md.spec.serving.image, model, md.spec.model)
        ],
        containers=[step],
        volumes=model_volumes(model, md.spec.model) + (volumes or []),
        **placement,
    )


def fetch_container(image: str, model: ResolvedModel, source: ModelSource) -> dict[str, Any]:
    """Init container that fills the model repository and checks its digest.

    A pvc://CLAIM/PATH model is mounted read-only and copied from there, so the
    digest check and `configure` work the same as for object storage. The
    credentials Secret reaches the container as environment, by reference only.
    """
    on_claim = claim_and_path(model.uri)
    uri = model.uri
    mounts: list[dict[str, Any]] = [dict(MODEL_MOUNT), dict(TMP_MOUNT)]
    if on_claim is not None:
        _, path = on_claim
        uri = f"file://{defaults.PVC_SOURCE_PATH}/{path}".rstrip("/")
        mounts.append(
            {
                "name": defaults.PVC_SOURCE_VOLUME,
                "mountPath": defaults.PVC_SOURCE_PATH,
                "readOnly": True,
            }
        )
    args = ["fetch", "--uri", uri, "--dest", defaults.MODEL_REPOSITORY_PATH]
    args += ["--max-bytes", str(fetch_max_bytes(source))]
    args += ["--timeout-seconds", str(source.fetch_timeout_seconds)]
    if model.sha256 is not None:
        args += ["--sha256", model.sha256]
    return modelship_container(
        FETCH_CONTAINER,
        image,
        args,
        ending=LAST_WORDS,
        credentials_secret=model.credentials_secret,
        mounts=mounts,
    )


def modelship_container(
    name: str,
    image: str,
    args: list[str],
    *,
    ending: dict[str, str],
    mounts: list[dict[str, Any]],
    credentials_secret: str | None = None,
    limits: dict[str, dict[str, Any]] | None = None,
    env: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    """A `modelship ARGS` step of a pod: HOME on the writable /tmp (then ``env``), the
    termination message settings ``ending`` (`REPORT` or `LAST_WORDS`), the credentials
    Secret as environment by reference, ``limits`` when there are any, the restricted
    security context."""
    container: dict[str, Any] = {
        "name": name,
        "image": image,
        "command": ["modelship"],
        "args": args,
        "env": [dict(HOME_ENV), *env],
        **ending,
    }
    if credentials_secret is not None:
        container["envFrom"] = [{"secretRef": {"name": credentials_secret}}]
    if limits:
        container["resources"] = limits
    container["volumeMounts"] = mounts
    container["securityContext"] = container_security_context()
    return container


# A step whose result the operator reads (a small JSON: a verdict, scores, a drift summary)
# writes it as its termination message: read from the pod's status, no storage credentials.
REPORT: dict[str, str] = {
    "terminationMessagePath": TERMINATION_MESSAGE_PATH,
    "terminationMessagePolicy": "File",
}

# An init step that fails says why in its last log line (`Error: ...`); the kubelet keeps
# that line as the container's termination message, where the operator reads it.
LAST_WORDS: dict[str, str] = {"terminationMessagePolicy": "FallbackToLogsOnError"}


def configure_container(serving: ServingSpec, model: ResolvedModel) -> dict[str, Any]:
    """Init container that makes the packaged config.pbtxt follow the serving spec."""
    kind = "KIND_GPU" if wants_gpu(serving.gpu) else "KIND_CPU"
    args = [
        "configure",
        "--repository",
        defaults.MODEL_REPOSITORY_PATH,
        "--model",
        model.name,
        "--instance-count",
        str(serving.instance_count),
        "--instance-kind",
        kind,
    ]
    batching = serving.dynamic_batching
    if batching is not None:
        args += ["--max-queue-delay-microseconds", str(batching.max_queue_delay_microseconds)]
        for size in batching.preferred_batch_sizes:
            args += ["--preferred-batch-size", str(size)]
    return {
        "name": CONFIGURE_CONTAINER,
        "image": serving.image,
        "command": ["modelship"],
        "args": args,
        "env": [dict(HOME_ENV)],
        "volumeMounts": [dict(MODEL_MOUNT), dict(TMP_MOUNT)],
        "securityContext": container_security_context(),
        **LAST_WORDS,
    }


def wants_gpu(gpu: GpuSpec | None) -> bool:
    return gpu is not None and gpu.count is not None


def resources(
    requested: ResourceRequirements | None, gpu: GpuSpec | None
) -> dict[str, dict[str, Any]]:
    """Container resources: the requested ones plus whole GPUs or MIG slices as limits."""
    wire = requested.to_wire() if requested is not None else {}
    result = {key: dict(wire[key]) for key in ("requests", "limits") if wire.get(key)}
    if gpu is not None and gpu.count is not None:
        name = (
            defaults.MIG_RESOURCE_PREFIX + gpu.mig_profile
            if gpu.mig_profile is not None
            else defaults.GPU_RESOURCE
        )
        result.setdefault("limits", {})[name] = gpu.count
    return result


def scheduling(
    gpu: GpuSpec | None,
    node_selector: dict[str, str],
    tolerations: list[Toleration],
    affinity: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """nodeSelector, tolerations and affinity of a pod, GPU ones merged with the user's.

    `gpu.product` wins over a user node selector on the same label; the GPU
    taint is tolerated unless the user already tolerates that key themselves.
    """
    selector = dict(node_selector)
    if gpu is not None and gpu.product is not None:
        selector[defaults.GPU_PRODUCT_LABEL] = gpu.product
    tolerated = [toleration.to_wire() for toleration in tolerations]
    if wants_gpu(gpu) and not any(t.get("key") == defaults.GPU_RESOURCE for t in tolerated):
        tolerated.append(dict(defaults.GPU_TOLERATION))
    placement: dict[str, Any] = {}
    if selector:
        placement["nodeSelector"] = selector
    if tolerated:
        placement["tolerations"] = tolerated
    if affinity:
        placement["affinity"] = copy.deepcopy(affinity)
    return placement
