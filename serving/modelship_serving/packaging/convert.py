"""scikit-learn -> ONNX with skl2onnx: the whole pipeline, preprocessing included, is one graph.

The graph takes one [batch, 1] input per column (named as in the input schema)
and gives the predicted label (or a regressor's prediction) as its first output,
then the class probabilities (or decision scores) as a plain [batch, classes]
tensor: no ZipMap, so Triton and clients see ordinary tensors.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any, Literal

import onnx

from modelship_serving.errors import UnsupportedModelError
from modelship_serving.metadata import InputSchema

# One opset per domain: a bare number would make skl2onnx guess the ai.onnx.ml version, which
# fails for IsolationForest and other ai.onnx.ml operators. onnxruntime >= 1.18 (and Triton
# 24.10's) run both; ai.onnx.ml 3 keeps tree thresholds in double where the input is double.
TARGET_OPSET: dict[str, int] = {"": 17, "ai.onnx.ml": 3}
LABEL_OUTPUT = "label"
SCORES_OUTPUT = "probabilities"
PREDICTION_OUTPUT = "prediction"


def final_estimator(model: Any) -> Any:
    """The last step of a Pipeline (recursively), or the model itself."""
    from sklearn.pipeline import Pipeline

    while isinstance(model, Pipeline):
        model = model.steps[-1][1]
    return model


def model_task(model: Any) -> Literal["classification", "regression", "unknown"]:
    """classification, regression or unknown."""
    from sklearn.base import is_classifier, is_regressor

    if is_classifier(model):
        return "classification"
    if is_regressor(model):
        return "regression"
    return "unknown"


def rename_values(model: onnx.ModelProto, renames: dict[str, str]) -> None:
    """Rename graph inputs/outputs (and every reference to them) in place."""
    if not renames:
        return
    graph = model.graph
    for value_info in [*graph.input, *graph.output, *graph.value_info]:
        if value_info.name in renames:
            value_info.name = renames[value_info.name]
    for node in graph.node:
        for index, name in enumerate(node.input):
            if name in renames:
                node.input[index] = renames[name]
        for index, name in enumerate(node.output):
            if name in renames:
                node.output[index] = renames[name]


_JOINED_INPUT = "modelship_features"
# What a missing category arrives as in the graph: schema.column_array sends NaN/None as "".
MISSING_CATEGORY = ""


def _fitted_parts(model: Any) -> Iterator[Any]:
    """``model`` and every fitted estimator inside it (pipeline steps, column transformers)."""
    yield model
    parts: list[Any] = []
    if hasattr(model, "steps"):
        parts = [step for _, step in model.steps]
    elif hasattr(model, "transformers_"):
        parts = [transformer for _, transformer, _ in model.transformers_]
    elif hasattr(model, "transformer_list"):
        parts = [transformer for _, transformer in model.transformer_list]
    for part in parts:
        if not isinstance(part, str):  # "drop" and "passthrough"
            yield from _fitted_parts(part)


def _with_string_missing_values(model: Any) -> Any:
    """A copy of ``model`` whose imputers fitted on text treat "" as missing.

    scikit-learn's SimpleImputer marks text gaps with NaN, which skl2onnx cannot
    express in a string tensor; the graph receives those gaps as "" instead.
    """
    from sklearn.impute import SimpleImputer

    def needs_patch(part: Any) -> bool:
        statistics = getattr(part, "statistics_", None)
        return (
            isinstance(part, SimpleImputer)
            and statistics is not None
            and statistics.dtype.kind == "O"
            and not isinstance(part.missing_values, str)
        )

    if not any(needs_patch(part) for part in _fitted_parts(model)):
        return model
    patched = copy.deepcopy(model)
    for part in _fitted_parts(patched):
        if needs_patch(part):
            part.missing_values = MISSING_CATEGORY
    return patched


def _with_per_column_inputs(converted: onnx.ModelProto, schema: InputSchema) -> onnx.ModelProto:
    """Give a graph converted with one [batch, k] float input one [batch, 1] input per column."""
    graph = converted.graph
    concat = onnx.helper.make_node(
        "Concat",
        [column.tensor_name for column in schema.columns],
        [_JOINED_INPUT],
        axis=1,
        name="modelship_join_columns",
    )
    graph.node.insert(0, concat)
    del graph.input[:]
    graph.input.extend(
        onnx.helper.make_tensor_value_info(column.tensor_name, onnx.TensorProto.FLOAT, [None, 1])
        for column in schema.columns
    )
    return converted


def convert_sklearn_model(model: Any, schema: InputSchema) -> onnx.ModelProto:
    """Convert a fitted estimator or Pipeline; raises UnsupportedModelError when skl2onnx cannot."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    model = _with_string_missing_values(model)
    per_column = [
        (
            column.name,
            FloatTensorType([None, 1]) if column.kind == "numeric" else StringTensorType([None, 1]),
        )
        for column in schema.columns
    ]
    # Many converters of a bare estimator take a single input: for all-numeric data, convert
    # with one [batch, k] input and put a Concat of the per-column inputs in front.
    input_layouts: list[tuple[list[Any], bool]] = [(per_column, False)]
    if len(schema.columns) > 1 and all(column.kind == "numeric" for column in schema.columns):
        input_layouts.append(
            ([(_JOINED_INPUT, FloatTensorType([None, len(schema.columns)]))], True)
        )
    task = model_task(model)
    # Plain probability tensors instead of ZipMap; estimators without that option
    # (e.g. LinearSVC) already give plain score tensors.
    option_sets: list[dict[int, dict[str, Any]]] = [{}]
    if task == "classification":
        option_sets.insert(0, {id(final_estimator(model)): {"zipmap": False}})
    converted: onnx.ModelProto | None = None
    errors: list[str] = []
    for initial_types, joined in input_layouts:
        for options in option_sets:
            try:
                converted = convert_sklearn(
                    model, initial_types=initial_types, options=options, target_opset=TARGET_OPSET
                )
            except Exception as error:
                errors.append(str(error))
                continue
            if joined:
                converted = _with_per_column_inputs(converted, schema)
            break
        if converted is not None:
            break
    if converted is None:
        raise UnsupportedModelError(
            f"skl2onnx cannot convert {type(model).__name__}"
            f" (final step {type(final_estimator(model)).__name__}): {errors[0]}. Supported are"
            " scikit-learn's usual transformers (ColumnTransformer, scalers, encoders, imputers)"
            " and classifiers/regressors listed by skl2onnx.supported_converters()"
        )
    # skl2onnx keeps the order of initial_types but may rewrite names it dislikes.
    graph_inputs = list(converted.graph.input)
    renames = {
        graph_input.name: column.tensor_name
        for graph_input, column in zip(graph_inputs, schema.columns, strict=True)
        if graph_input.name != column.tensor_name
    }
    outputs = [output.name for output in converted.graph.output]
    if task == "classification" and len(outputs) >= 2:
        renames.update({outputs[0]: LABEL_OUTPUT, outputs[1]: SCORES_OUTPUT})
    elif task == "regression" and len(outputs) == 1:
        renames[outputs[0]] = PREDICTION_OUTPUT
    rename_values(converted, renames)
    onnx.checker.check_model(converted)
    return converted
