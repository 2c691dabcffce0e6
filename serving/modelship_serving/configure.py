"""Tuning a fetched model's `config.pbtxt` to the pod it serves in.

The package records how the data scientist wanted the model served; the
ModelDeployment's `serving` section (instance count, GPU or CPU, dynamic
batching) has the last word in the cluster. The init container runs this
after `fetch` has verified the repository's digest. The packaged config is kept
beside the effective one (modelship_serving.digest.PACKAGED_CONFIG_NAME) and every
run derives the effective config from it, so the init containers can run again in
the same pod: `fetch` still verifies the repository as packaged, and `configure`
gives the same config for the same settings, whatever it wrote before. The config
is parsed and written with Triton's own model-config protobuf, so what Triton
reads is what was checked here.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from google.protobuf import text_format
from google.protobuf.message import DecodeError
from pydantic import BaseModel, ConfigDict, Field
from tritonclient.grpc import model_config_pb2

from modelship_serving.digest import CONFIG_NAME, PACKAGED_CONFIG_NAME
from modelship_serving.errors import ModelshipServingError

InstanceKind = Literal["KIND_CPU", "KIND_GPU"]


class ConfigureError(ModelshipServingError):
    """A model's config.pbtxt is missing, unreadable, or cannot take the settings."""


class ServingOverrides(BaseModel):
    """Settings from the ModelDeployment that replace the packaged ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instance_count: int = Field(ge=1, description="Model instances Triton runs in the pod.")
    instance_kind: InstanceKind = Field(description="Run the instances on CPU or GPU.")
    max_queue_delay_microseconds: int | None = Field(
        default=None,
        ge=0,
        description="Turn dynamic batching on with this queue delay; unchanged when absent.",
    )
    preferred_batch_sizes: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=list,
        description="Batch sizes the dynamic batcher aims for; each at most max_batch_size.",
    )


def read_config(path: Path) -> model_config_pb2.ModelConfig:
    """Parse a config.pbtxt, naming the file when it is missing or malformed."""
    try:
        text = path.read_text()
    except FileNotFoundError as error:
        raise ConfigureError(
            f"{path} does not exist: is the model name right, and was the repository "
            "made by `modelship package`?"
        ) from error
    try:
        return text_format.Parse(text, model_config_pb2.ModelConfig())
    except (text_format.ParseError, DecodeError) as error:
        raise ConfigureError(f"{path} is not a valid Triton model config: {error}") from error


def apply_overrides(
    config: model_config_pb2.ModelConfig, overrides: ServingOverrides
) -> model_config_pb2.ModelConfig:
    """A copy of ``config`` with the instance group and batching replaced."""
    tuned = model_config_pb2.ModelConfig()
    tuned.CopyFrom(config)
    del tuned.instance_group[:]
    group = tuned.instance_group.add()
    group.count = overrides.instance_count
    group.kind = model_config_pb2.ModelInstanceGroup.Kind.Value(overrides.instance_kind)
    if overrides.max_queue_delay_microseconds is not None:
        if tuned.max_batch_size == 0:
            raise ConfigureError(
                f"model {tuned.name!r} was packaged with max_batch_size 0, so Triton cannot "
                "batch it: remove serving.dynamicBatching or repackage with --max-batch-size"
            )
        _check_preferred_sizes(tuned, overrides.preferred_batch_sizes)
        batching = tuned.dynamic_batching
        batching.max_queue_delay_microseconds = overrides.max_queue_delay_microseconds
        del batching.preferred_batch_size[:]
        batching.preferred_batch_size.extend(overrides.preferred_batch_sizes)
    return tuned


def _check_preferred_sizes(config: model_config_pb2.ModelConfig, sizes: list[int]) -> None:
    # Triton refuses to load a model whose preferred batch size exceeds its max_batch_size,
    # and the pod never becomes ready: say so here, in the init container's last words.
    above = sorted({size for size in sizes if size > config.max_batch_size})
    if above:
        listed = ", ".join(str(size) for size in above)
        raise ConfigureError(
            f"serving.dynamicBatching.preferredBatchSizes has {listed}, above the "
            f"max_batch_size {config.max_batch_size} model {config.name!r} was packaged with: "
            f"lower it to at most {config.max_batch_size}, or repackage with "
            f"--max-batch-size {above[-1]}"
        )


def _write_atomically(path: Path, text: str) -> None:
    # Write beside the target and rename, so no reader (Triton, a rerun) sees half a file.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w") as stream:
            stream.write(text)
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def configure_model(repository: Path, model: str, overrides: ServingOverrides) -> Path:
    """Write ``repository/model/config.pbtxt`` as the packaged config with ``overrides``
    applied; returns its path."""
    path = repository / model / CONFIG_NAME
    packaged = repository / model / PACKAGED_CONFIG_NAME
    try:
        if not packaged.exists():
            read_config(path)  # refuse a missing or malformed config before keeping it
            _write_atomically(packaged, path.read_text())
        tuned = apply_overrides(read_config(packaged), overrides)
        _write_atomically(path, text_format.MessageToString(tuned))
    except OSError as error:
        raise ConfigureError(
            f"cannot write {path}: {error.strerror or error}; the model repository must be"
            " writable (the model volume)"
        ) from error
    return path
