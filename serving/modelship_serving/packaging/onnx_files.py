"""ONNX files as deep-learning exports give them: one [batch, k] input, logits out.

`torch.onnx.export` of an MLP gives one float input (``input`` or ``onnx::Gemm_0``) of shape
[batch, k] and one [batch, classes] output of logits (or probabilities). modelship serves
every model with one [batch, 1] input per column, so a Concat joins the columns in front of
such a graph: the sample's columns, in the sample's order, become the k features, and
clients, `modelship score` and `compare` send the same per-column inputs as for any package.
Given class names, an ArgMax over the scores and a Gather of the names add the label output
the other classifiers have, first.
"""

from __future__ import annotations

import numpy as np
import onnx
import pandas as pd
from onnx import TensorProto, helper, numpy_helper

from modelship_serving.errors import SampleError, UnsupportedModelError
from modelship_serving.metadata import InputColumn, InputSchema, TritonDatatype
from modelship_serving.packaging.outputs import LABEL_OUTPUT
from modelship_serving.packaging.schema import tensor_name_for

_NUMBER_TYPES: dict[int, TritonDatatype] = {
    TensorProto.FLOAT: "FP32",
    TensorProto.DOUBLE: "FP64",
}


def _free_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    initializers = {initializer.name for initializer in model.graph.initializer}
    return [value for value in model.graph.input if value.name not in initializers]


def joined_input(model: onnx.ModelProto) -> onnx.ValueInfoProto | None:
    """The input when ``model`` takes one float [batch, k] input with k > 1 (or k symbolic)."""
    inputs = _free_inputs(model)
    if len(inputs) != 1:
        return None
    tensor_type = inputs[0].type.tensor_type
    dims = tensor_type.shape.dim
    if tensor_type.elem_type not in _NUMBER_TYPES or len(dims) != 2:
        return None
    if dims[1].dim_value == 1:
        return None  # one [batch, 1] column: the ordinary layout
    return inputs[0]


def joined_input_schema(graph_input: onnx.ValueInfoProto, sample: pd.DataFrame) -> InputSchema:
    """The per-column schema of a [batch, k] input: the sample's k columns, in its order."""
    tensor_type = graph_input.type.tensor_type
    batch, features = tensor_type.shape.dim
    if batch.dim_value > 0:
        raise UnsupportedModelError(
            f"ONNX input {graph_input.name!r} has a fixed batch size of {batch.dim_value}; export"
            " with a dynamic batch axis, e.g. torch.onnx.export(..., input_names=['input'],"
            " dynamic_axes={'input': {0: 'batch'}})"
        )
    columns = [str(name) for name in sample.columns]
    if features.dim_value and features.dim_value != len(columns):
        raise SampleError(
            f"ONNX input {graph_input.name!r} takes {features.dim_value} features but the sample"
            f" has {len(columns)} columns ({', '.join(columns)}); give a sample with exactly the"
            " model's features as columns, in the order the model takes them"
        )
    text = [name for name in columns if not pd.api.types.is_numeric_dtype(sample[name])]
    if text:
        raise SampleError(
            f"ONNX input {graph_input.name!r} takes numbers but sample column(s)"
            f" {', '.join(text)} hold text; encode them as the model was trained"
        )
    datatype = _NUMBER_TYPES[tensor_type.elem_type]
    taken: set[str] = set()
    return InputSchema(
        columns=[
            InputColumn(
                name=name,
                kind="numeric",
                source_dtype=str(sample[name].dtype),
                tensor_name=tensor_name_for(name, taken),
                datatype=datatype,
            )
            for name in columns
        ]
    )


def with_label_output(model: onnx.ModelProto, classes: list[str]) -> onnx.ModelProto:
    """``model`` with a ``label`` output first: the class name of each row's highest score.

    The scores (logits or probabilities, [batch, len(classes)]) stay as the second output.
    Names that are all integers give INT64 labels, as scikit-learn classifiers with integer
    classes do; others give strings.
    """
    graph = model.graph
    outputs = list(graph.output)
    first = outputs[0].type.tensor_type if outputs else None
    if first is None or first.elem_type not in _NUMBER_TYPES or len(first.shape.dim) != 2:
        raise UnsupportedModelError(
            "--classes needs an ONNX model whose first output is the [batch, classes] float"
            " scores (logits or probabilities), as torch.onnx.export gives; this one's first"
            " output is not"
        )
    scores = outputs[0].name
    if scores == LABEL_OUTPUT:
        raise UnsupportedModelError(
            f"the ONNX model already has an output named {LABEL_OUTPUT!r}; drop --classes"
        )
    width = first.shape.dim[1].dim_value
    if width and width != len(classes):
        raise UnsupportedModelError(
            f"--classes names {len(classes)} classes but the model's output {scores!r} has"
            f" {width} scores per row; give one name per score column, in column order"
        )
    numeric = _integer_names(classes)
    values = np.array(class_labels(classes), dtype=np.int64 if numeric else object)
    names = numpy_helper.from_array(values, "modelship_class_names")
    graph.initializer.append(names)
    graph.node.extend(
        [
            helper.make_node(
                "ArgMax",
                [scores],
                ["modelship_class_index"],
                axis=1,
                keepdims=0,
                name="modelship_argmax",
            ),
            helper.make_node(
                "Gather",
                ["modelship_class_names", "modelship_class_index"],
                [LABEL_OUTPUT],
                axis=0,
                name="modelship_class_name",
            ),
        ]
    )
    label = helper.make_tensor_value_info(
        LABEL_OUTPUT, TensorProto.INT64 if numeric else TensorProto.STRING, [None]
    )
    graph.output.insert(0, label)
    onnx.checker.check_model(model)
    return model


def _integer_names(classes: list[str]) -> bool:
    return all(name.removeprefix("-").isdigit() for name in classes)


def class_labels(classes: list[str]) -> list[str] | list[int]:
    """The labels the label output gives for ``classes``: integers when all names are."""
    return [int(name) for name in classes] if _integer_names(classes) else classes


def check_class_count(scores: np.ndarray[object, np.dtype[np.generic]], classes: list[str]) -> None:
    """SampleError unless the model gave one score per named class on the sample."""
    if scores.ndim != 2 or scores.shape[1] != len(classes):
        raise SampleError(
            f"--classes names {len(classes)} classes but the model gave scores of shape"
            f" {list(scores.shape)} on the sample; give one name per score column"
        )


def parse_classes(text: str) -> list[str]:
    """``a,b,c`` as names; refuses empty or repeated names."""
    names = [name.strip() for name in text.split(",")]
    if len(names) < 2 or any(not name for name in names):
        raise UnsupportedModelError(
            f"--classes {text!r} must name at least two classes, comma separated, e.g. no,yes"
        )
    if len(set(names)) != len(names):
        raise UnsupportedModelError(f"--classes {text!r} names a class twice")
    return names
