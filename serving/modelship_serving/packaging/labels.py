"""The label output of a converted classifier, made to answer as scikit-learn's ``predict``.

skl2onnx writes bool and float class labels as int64 (``True`` becomes ``1``): the label
output is cast back to the classes' own type, so a client gets ``True``, not ``1``.

A forest (or a bagging ensemble, or one tree) predicts the first class of highest vote share;
scikit-learn adds the votes in float64, where a tie (10 trees of 20 each way) is exact, while
the graph adds them in float32, where the same tie ends a few ulps apart and the other class
wins. Its label is recomputed from the probabilities the graph gives: the first class whose
probability is within ``VOTE_TIE_TOLERANCE`` of the highest, the tie-break scikit-learn makes.
The probabilities themselves are unchanged and still checked at the parity tolerance.

A multi-output classifier ships its labels only ([rows, outputs]); see with_labels_only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# float32 sums of a few hundred vote shares drift by about 1e-7 each way; distinct vote
# shares of a forest differ by far more (1/n_estimators with pure leaves).
VOTE_TIE_TOLERANCE = 1e-5
DEFAULT_OPSET = 17
_ORIGINAL_TYPES = {"b": TensorProto.BOOL, "f": TensorProto.DOUBLE}


def _classes(model: Any) -> np.ndarray[Any, Any] | None:
    classes = getattr(model, "classes_", None)
    if isinstance(classes, np.ndarray) and classes.ndim == 1:
        return classes
    return None  # a multi-output classifier keeps a list of arrays


def _votes(estimator: Any) -> bool:
    """Whether ``estimator`` predicts the first class of highest (float64) vote share."""
    from sklearn.ensemble import BaggingClassifier
    from sklearn.ensemble._forest import ForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    return isinstance(estimator, (ForestClassifier, BaggingClassifier, DecisionTreeClassifier))


def _detach_output(graph: onnx.GraphProto, name: str) -> str:
    """Rename the value that node outputs as ``name`` to a fresh one and return it, so that
    new nodes can produce ``name`` (a graph output) from it."""
    produced = f"{name}_as_converted"
    while any(produced in node.output for node in graph.node):
        produced += "_"
    for node in graph.node:
        for index, output in enumerate(node.output):
            if output == name:
                node.output[index] = produced
    return produced


def with_vote_tie_label(
    converted: onnx.ModelProto, model: Any, estimator: Any, label: str, scores: str
) -> None:
    """Recompute ``label`` from ``scores`` with scikit-learn's tie-break (see the module
    docstring), when ``estimator`` (the final step of ``model``) votes."""
    classes = _classes(model)
    graph = converted.graph
    outputs = [output.name for output in graph.output]
    if classes is None or not _votes(estimator) or outputs[:2] != [label, scores]:
        return
    scores_type = next(output for output in graph.output if output.name == scores).type
    score_type = helper.tensor_dtype_to_np_dtype(scores_type.tensor_type.elem_type)
    names = {
        key: f"modelship_tie_{key}"
        for key in ("classes", "max", "tolerance", "floor", "below", "near", "near_f", "index")
    }
    as_text = classes.dtype.kind in "OUS"
    values = (
        np.array([str(value).encode("utf-8") for value in classes], dtype=object)
        if as_text
        else classes.astype(np.int64)
    )
    graph.initializer.extend(
        [
            numpy_helper.from_array(values, names["classes"]),
            numpy_helper.from_array(np.array(VOTE_TIE_TOLERANCE, score_type), names["tolerance"]),
        ]
    )
    nodes = [
        helper.make_node("ReduceMax", [scores], [names["max"]], axes=[1], keepdims=1),
        helper.make_node("Sub", [names["max"], names["tolerance"]], [names["floor"]]),
        # Not(Less) rather than GreaterOrEqual, which the graph's opset (11 at times) lacks.
        helper.make_node("Less", [scores, names["floor"]], [names["below"]]),
        helper.make_node("Not", [names["below"]], [names["near"]]),
        helper.make_node("Cast", [names["near"]], [names["near_f"]], to=TensorProto.FLOAT),
        # ArgMax gives the first index of the maximum: the first class within the tolerance.
        helper.make_node("ArgMax", [names["near_f"]], [names["index"]], axis=1, keepdims=0),
        helper.make_node("Gather", [names["classes"], names["index"]], [label], axis=0),
    ]
    with_default_opset(converted)
    _detach_output(graph, label)
    graph.node.extend(nodes)
    _retype_output(graph, label, TensorProto.STRING if as_text else TensorProto.INT64)


def with_original_label_type(converted: onnx.ModelProto, model: Any, label: str) -> None:
    """Cast ``label`` back to bool or float when ``model``'s classes are (see the docstring)."""
    classes = _classes(model)
    if classes is None or classes.dtype.kind not in _ORIGINAL_TYPES:
        return
    graph = converted.graph
    if not any(output.name == label for output in graph.output):
        return
    target = _ORIGINAL_TYPES[classes.dtype.kind]
    with_default_opset(converted)
    produced = _detach_output(graph, label)
    graph.node.append(helper.make_node("Cast", [produced], [label], to=target))
    _retype_output(graph, label, target)


def with_labels_only(converted: onnx.ModelProto, model: Any) -> bool:
    """Keep only the label output of a multi-output classifier (``classes_`` a list): its
    probabilities are stacked output-first ([outputs, rows, classes], or a sequence), no
    tensor Triton can batch by row. True when it was one."""
    if not isinstance(getattr(model, "classes_", None), list):
        return False
    del converted.graph.output[1:]
    return True


def with_default_opset(converted: onnx.ModelProto) -> None:
    """A graph of ai.onnx.ml operators only may import no standard opset; the nodes added here
    (all in opset 9 already) need one."""
    if not any(opset.domain in ("", "ai.onnx") for opset in converted.opset_import):
        converted.opset_import.append(helper.make_opsetid("", DEFAULT_OPSET))


def _retype_output(graph: onnx.GraphProto, name: str, element_type: int) -> None:
    for output in graph.output:
        if output.name == name:
            output.type.tensor_type.elem_type = element_type
