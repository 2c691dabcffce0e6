"""Writing a model's `config.pbtxt` from its ONNX graph.

Inputs and outputs come from the graph, one [batch, 1] input per column. The
label output, [batch] in the graph, is exposed as [batch, 1] so every output
has a per-row shape; with Triton's onnxruntime backend a `reshape` does that,
the python backend runner reshapes it itself.
"""

from __future__ import annotations

import json
from typing import Literal

import onnx
from pydantic import BaseModel, ConfigDict, Field

from modelship_serving.errors import UnsupportedModelError
from modelship_serving.metadata import TensorSpec, TritonDatatype

Backend = Literal["onnxruntime", "python"]

ONNX_TO_TRITON: dict[int, TritonDatatype] = {
    onnx.TensorProto.BOOL: "BOOL",
    onnx.TensorProto.UINT8: "UINT8",
    onnx.TensorProto.INT8: "INT8",
    onnx.TensorProto.INT16: "INT16",
    onnx.TensorProto.INT32: "INT32",
    onnx.TensorProto.INT64: "INT64",
    onnx.TensorProto.FLOAT16: "FP16",
    onnx.TensorProto.FLOAT: "FP32",
    onnx.TensorProto.DOUBLE: "FP64",
    onnx.TensorProto.STRING: "BYTES",
}
# config.pbtxt spells BYTES as TYPE_STRING.
_CONFIG_TYPE = {datatype: f"TYPE_{datatype}" for datatype in ONNX_TO_TRITON.values()} | {
    "BYTES": "TYPE_STRING"
}


class ModelConfigOptions(BaseModel):
    """Serving options written into config.pbtxt."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Backend = Field(
        default="onnxruntime",
        description="onnxruntime: Triton's ONNX Runtime backend (production images);"
        " python: a python-backend model that runs the ONNX file with onnxruntime.",
    )
    max_batch_size: int = Field(
        default=64, ge=0, description="Largest batch Triton forms; 0 turns batching off."
    )
    dynamic_batching: bool = Field(
        default=True, description="Let Triton merge concurrent requests into one batch."
    )
    max_queue_delay_microseconds: int = Field(
        default=100, ge=0, description="How long a request may wait for others to batch with."
    )
    preferred_batch_sizes: list[int] = Field(
        default_factory=list, description="Batch sizes the dynamic batcher aims for."
    )
    instance_count: int = Field(default=1, ge=1, description="Model instances per device.")
    instance_kind: Literal["cpu", "gpu"] = Field(
        default="cpu", description="Run the instances on CPU or GPU."
    )


def _tensor_dims(value: onnx.ValueInfoProto, batching: bool) -> tuple[TritonDatatype, list[int]]:
    tensor_type = value.type.tensor_type
    datatype = ONNX_TO_TRITON.get(tensor_type.elem_type)
    if datatype is None:
        raise UnsupportedModelError(
            f"ONNX value {value.name!r} has element type {tensor_type.elem_type}, which Triton"
            " cannot carry; export the model with plain numeric or string outputs (no ZipMap)"
        )
    dims = [dim.dim_value if dim.dim_value > 0 else -1 for dim in tensor_type.shape.dim]
    if batching:
        dims = dims[1:]
    elif dims:
        dims[0] = -1
    return datatype, dims


def output_specs(model: onnx.ModelProto, task: str) -> list[TensorSpec]:
    """The outputs as clients see them (label first), per row, without the batch dimension."""
    specs: list[TensorSpec] = []
    for index, output in enumerate(model.graph.output):
        datatype, dims = _tensor_dims(output, batching=True)
        if not dims:
            dims = [1]  # [batch] is served as [batch, 1]
        if task == "classification":
            role = "label" if index == 0 else "scores" if index == 1 else "other"
        elif task == "regression" and index == 0:
            role = "prediction"
        else:
            role = "other"
        specs.append(TensorSpec(name=output.name, datatype=datatype, dims=dims, role=role))
    return specs


def _dims_text(dims: list[int]) -> str:
    return "[ " + ", ".join(str(dim) for dim in dims) + " ]"


def render_model_config(name: str, model: onnx.ModelProto, options: ModelConfigOptions) -> str:
    """The text of config.pbtxt for ``model`` served as ``name``."""
    batching = options.max_batch_size > 0
    initializers = {initializer.name for initializer in model.graph.initializer}
    lines = [f"name: {json.dumps(name)}"]
    if options.backend == "onnxruntime":
        lines += ['platform: "onnxruntime_onnx"', 'default_model_filename: "model.onnx"']
    else:
        lines += ['backend: "python"']
    lines.append(f"max_batch_size: {options.max_batch_size}")
    for graph_input in model.graph.input:
        if graph_input.name in initializers:
            continue
        datatype, dims = _tensor_dims(graph_input, batching)
        lines += [
            "input {",
            f"  name: {json.dumps(graph_input.name)}",
            f"  data_type: {_CONFIG_TYPE[datatype]}",
            f"  dims: {_dims_text(dims)}",
            "}",
        ]
    for output in model.graph.output:
        datatype, dims = _tensor_dims(output, batching)
        lines += ["output {", f"  name: {json.dumps(output.name)}"]
        lines.append(f"  data_type: {_CONFIG_TYPE[datatype]}")
        if batching and not dims:
            lines.append("  dims: [ 1 ]")
            if options.backend == "onnxruntime":
                lines.append("  reshape { shape: [ ] }")
        else:
            lines.append(f"  dims: {_dims_text(dims)}")
        lines.append("}")
    if batching and options.dynamic_batching:
        lines.append("dynamic_batching {")
        if options.preferred_batch_sizes:
            sizes = ", ".join(str(size) for size in options.preferred_batch_sizes)
            lines.append(f"  preferred_batch_size: [ {sizes} ]")
        lines.append(f"  max_queue_delay_microseconds: {options.max_queue_delay_microseconds}")
        lines.append("}")
    kind = "KIND_GPU" if options.instance_kind == "gpu" else "KIND_CPU"
    lines += ["instance_group {", f"  count: {options.instance_count}", f"  kind: {kind}", "}"]
    return "\n".join(lines) + "\n"
