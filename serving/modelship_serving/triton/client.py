"""Sending a table to a Triton model: one input tensor per column, as the metadata's schema says."""

from __future__ import annotations

import importlib
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from modelship_serving.metadata import InputSchema, ModelMetadata
from modelship_serving.packaging.schema import frame_to_feeds


class _InferInputFactory(Protocol):
    def __call__(self, name: str, shape: list[int], datatype: str) -> Any: ...


def infer_inputs(
    frame: pd.DataFrame, schema: InputSchema, infer_input: _InferInputFactory
) -> list[Any]:
    """InferInputs for ``frame``; ``infer_input`` is tritonclient.http/grpc.InferInput."""
    feeds = frame_to_feeds(frame, schema)
    inputs = []
    for column in schema.columns:
        array = feeds[column.tensor_name]
        tensor = infer_input(column.tensor_name, list(array.shape), column.datatype)
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    return inputs


TritonProtocol = Literal["http", "grpc"]

DEFAULT_ROWS_PER_REQUEST = 64
"""At most the packaged default max_batch_size, so any default package accepts it."""


def infer_frame(
    url: str,
    metadata: ModelMetadata,
    frame: pd.DataFrame,
    protocol: TritonProtocol,
    rows_per_request: int = DEFAULT_ROWS_PER_REQUEST,
    model_version: str | None = None,
) -> dict[str, Any]:
    """Outputs by name for ``frame``, over Triton's HTTP (binary tensors) or gRPC protocol;
    from ``model_version`` where given ("": the version Triton serves), else the metadata's."""
    triton: Any = importlib.import_module(f"tritonclient.{protocol}")
    # Over HTTP, outputs come back as JSON lists unless asked for as binary tensors.
    binary: dict[str, bool] = {"binary_data": True} if protocol == "http" else {}
    outputs = [triton.InferRequestedOutput(spec.name, **binary) for spec in metadata.outputs]
    with triton.InferenceServerClient(url) as client:
        return _infer_in_slices(
            client,
            triton.InferInput,
            outputs,
            metadata,
            frame,
            rows_per_request,
            metadata.version if model_version is None else model_version,
        )


def _infer_in_slices(
    client: Any,
    infer_input: _InferInputFactory,
    outputs: list[Any],
    metadata: ModelMetadata,
    frame: pd.DataFrame,
    rows_per_request: int,
    model_version: str,
) -> dict[str, Any]:
    """One request per ``rows_per_request`` rows, joined; the same for either protocol."""
    parts: list[dict[str, Any]] = []
    for start in range(0, len(frame), rows_per_request):
        result = client.infer(
            metadata.name,
            infer_inputs(
                frame.iloc[start : start + rows_per_request], metadata.input_schema, infer_input
            ),
            model_version=model_version,
            outputs=outputs,
        )
        parts.append({spec.name: result.as_numpy(spec.name) for spec in metadata.outputs})
    return _joined(parts, metadata)


def _joined(parts: list[dict[str, Any]], metadata: ModelMetadata) -> dict[str, Any]:
    return {
        spec.name: _decoded(np.concatenate([part[spec.name] for part in parts]))
        for spec in metadata.outputs
    }


def _decoded(array: Any) -> Any:
    # BYTES outputs (string labels) arrive as bytes objects.
    if isinstance(array, np.ndarray) and array.dtype == np.object_:
        return np.array(
            [
                value.decode("utf-8") if isinstance(value, bytes) else value
                for value in array.reshape(-1)
            ],
            dtype=object,
        ).reshape(array.shape)
    return array
