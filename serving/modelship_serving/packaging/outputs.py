"""The outputs a package answers with, named alike for every kind of model: a classifier's
``label`` and its class ``probabilities``, or its decision ``scores`` where the model has
no probabilities (an SVC without ``probability=True``, a hinge-loss SGD, a LinearSVC), so
that nobody reads a margin of 2.2 as a probability; a regressor's ``prediction``.

Converted probabilities are kept inside [0, 1]: a forest's vote shares summed in float32
come out a few ulps below 0 or above 1 (-1.2e-7), which scikit-learn never gives.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from modelship_serving.packaging.labels import with_default_opset

LABEL_OUTPUT = "label"
PROBABILITIES_OUTPUT = "probabilities"
SCORES_OUTPUT = "scores"
PREDICTION_OUTPUT = "prediction"


def scores_output(method: str) -> str:
    """The name of a classifier's second output, given the method that answers it."""
    return PROBABILITIES_OUTPUT if method == "predict_proba" else SCORES_OUTPUT


def scores_method(model: Any) -> str:
    """``predict_proba`` where ``model`` offers it (scikit-learn hides it where it would
    refuse, e.g. SVC(probability=False)), else ``decision_function``: what a converter's
    second output holds."""
    return "predict_proba" if hasattr(model, "predict_proba") else "decision_function"


def with_probabilities_clipped(converted: onnx.ModelProto) -> None:
    """Clip the graph's ``probabilities`` output to [0, 1] (see the module docstring)."""
    graph = converted.graph
    output = next((out for out in graph.output if out.name == PROBABILITIES_OUTPUT), None)
    if output is None:
        return
    dtype = helper.tensor_dtype_to_np_dtype(output.type.tensor_type.elem_type)
    if dtype.kind != "f":
        return
    produced, floored = f"{PROBABILITIES_OUTPUT}_unclipped", f"{PROBABILITIES_OUTPUT}_floored"
    # Every reader inside the graph (the vote-tie label) keeps the value as converted.
    for node in graph.node:
        for names in (node.input, node.output):
            names[:] = [produced if name == PROBABILITIES_OUTPUT else name for name in names]
    bounds = {"low": f"{produced}_low", "high": f"{produced}_high"}
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array(0, dtype), bounds["low"]),
            numpy_helper.from_array(np.array(1, dtype), bounds["high"]),
        ]
    )
    # Max then Min, not Clip: Clip's bounds moved from attributes to inputs in opset 11, and
    # a converted graph may import an older opset.
    with_default_opset(converted)
    graph.node.extend(
        [
            helper.make_node("Max", [produced, bounds["low"]], [floored]),
            helper.make_node("Min", [floored, bounds["high"]], [PROBABILITIES_OUTPUT]),
        ]
    )
