"""How Triton serves the model: image, replicas, resources, GPUs, batching, scheduling."""

from __future__ import annotations

from pydantic import Field

from modelship.api.base import (
    ApiModel,
    Args,
    Image,
    NonNegativeInt32,
    PositiveInt32,
)
from modelship.api.common import (
    PRESERVE_UNKNOWN,
    GpuSpec,
    KubernetesObject,
    NodeSelector,
    Resources,
    Tolerations,
    resources_field,
)

DEFAULT_TRITON_IMAGE = "ghcr.io/modelship/tritonserver:24.10-modelship-0.1.0"


class DynamicBatching(ApiModel):
    """Triton dynamic batching: requests are merged into batches on the server."""

    max_queue_delay_microseconds: NonNegativeInt32 = Field(
        default=100,
        description="How long a request may wait for others to form a batch.",
    )
    preferred_batch_sizes: list[PositiveInt32] = Field(
        default_factory=list,
        max_length=16,
        description=(
            "Batch sizes Triton tries to form (at most 16, each at least 1; order and "
            "repeats do not matter); empty lets Triton choose. Each must be at most the "
            "max batch size the model was packaged with: the pod's configure step checks "
            "it and the ModelDeployment reports ConfigureFailed otherwise."
        ),
    )


class ServingSpec(ApiModel):
    """How the Triton inference server runs."""

    image: Image = Field(
        default=DEFAULT_TRITON_IMAGE,
        description=(
            "Triton server image; it must also carry `modelship fetch`. Not empty, no "
            "whitespace, at most 1024 characters."
        ),
    )
    replicas: NonNegativeInt32 = Field(
        default=1,
        description="Pods of the stable revision when autoscaling is off.",
    )
    resources: Resources = resources_field("the Triton container")
    gpu: GpuSpec | None = Field(default=None, description="NVIDIA GPUs for each pod.")
    node_selector: NodeSelector = Field(
        default_factory=dict,
        description="Node labels pods must match (merged with GPU ones); at most 32.",
    )
    tolerations: Tolerations = Field(
        default_factory=list,
        description=(
            "Tolerations added to the pods (the GPU taint is tolerated by default); at most 32."
        ),
    )
    affinity: KubernetesObject | None = Field(
        default=None,
        description="A Kubernetes Affinity object for the pods.",
        json_schema_extra=PRESERVE_UNKNOWN,
    )
    dynamic_batching: DynamicBatching | None = Field(
        default=None,
        description=(
            "Server-side batching. When set, Triton batches with these settings (the model "
            "must have been packaged with a max batch size above 0). When absent, the "
            "packaged config.pbtxt decides: `modelship package` turns dynamic batching on "
            "unless told otherwise."
        ),
    )
    instance_count: int = Field(
        default=1, ge=1, le=64, description="Model instances Triton runs in each pod."
    )
    args: Args = Field(
        default_factory=list,
        description="Extra tritonserver command-line arguments (at most 64).",
    )
