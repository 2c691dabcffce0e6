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

from modelship_serving.errors import UnsupportedModelError, one_line
from modelship_serving.metadata import InputSchema
from modelship_serving.packaging.boosting import (
    catboost_task,
    convert_catboost,
    is_catboost,
    register_converters,
    with_plain_xgboost_features,
)
from modelship_serving.packaging.labels import (
    with_labels_only,
    with_original_label_type,
    with_vote_tie_label,
)
from modelship_serving.packaging.outputs import (
    LABEL_OUTPUT,
    PREDICTION_OUTPUT,
    scores_method,
    scores_output,
    with_probabilities_clipped,
)
from modelship_serving.packaging.precision import (
    Precision,
    splits_float32,
    with_double_imputers,
    with_float32_cast,
)

# One opset per domain: a bare number would make skl2onnx guess the ai.onnx.ml version, which
# fails for IsolationForest and other ai.onnx.ml operators. onnxruntime >= 1.18 (and Triton
# 24.10's) run both; ai.onnx.ml 3 keeps tree thresholds in double where the input is double.
TARGET_OPSET: dict[str, int] = {"": 17, "ai.onnx.ml": 3}
TEXT_LOCALE = "C.UTF-8"
_SKLEARN_DEFAULT_TOKENS = r"(?u)\b\w\w+\b"
_RE2_DEFAULT_TOKENS = r"[\pL\pN_]{2,}"  # maximal runs of 2+ word characters, as above


def final_estimator(model: Any) -> Any:
    """The last step of a Pipeline (recursively), or the model itself."""
    from sklearn.pipeline import Pipeline

    while isinstance(model, Pipeline):
        model = model.steps[-1][1]
    return model


def model_task(model: Any) -> Literal["classification", "regression", "unknown"]:
    """classification, regression or unknown."""
    from sklearn.base import is_classifier, is_regressor

    if is_catboost(model):
        return catboost_task(model)

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


def _with_string_missing_values(model: Any) -> None:
    """Make the imputers of ``model`` (a copy) fitted on text treat "" as missing.

    scikit-learn's SimpleImputer marks text gaps with NaN, which skl2onnx cannot
    express in a string tensor; the graph receives those gaps as "" instead.
    """
    from sklearn.impute import SimpleImputer

    for part in _fitted_parts(model):
        statistics = getattr(part, "statistics_", None)
        if (
            isinstance(part, SimpleImputer)
            and statistics is not None
            and statistics.dtype.kind == "O"
            and not isinstance(part.missing_values, str)
        ):
            part.missing_values = MISSING_CATEGORY


def _without_flattened_votes(model: Any) -> None:
    """skl2onnx converts a VotingClassifier only with ``flatten_transform`` off (the default
    is on); the option shapes ``transform`` alone, not ``predict`` nor ``predict_proba``."""
    from sklearn.ensemble import VotingClassifier

    for part in _fitted_parts(model):
        if isinstance(part, VotingClassifier):
            part.flatten_transform = False


def _without_identity_steps(model: Any) -> None:
    """Drop the "passthrough" (or None) steps of the Pipelines in ``model`` (a copy), as a grid
    search over steps leaves them: they are the identity, and skl2onnx reads every step as an
    estimator."""
    for part in _fitted_parts(model):
        steps = getattr(part, "steps", None)
        if isinstance(steps, list) and len(steps) > 1:
            kept = [step for step in steps[:-1] if step[1] not in (None, "passthrough")]
            part.steps = [*kept, steps[-1]]


def _prepared(model: Any) -> Any:
    """A copy of ``model`` the converters can read; the user's model is never changed."""
    patched = copy.deepcopy(model)
    _with_string_missing_values(patched)
    _without_flattened_votes(patched)
    _without_identity_steps(patched)
    with_plain_xgboost_features(patched, _fitted_parts(patched))
    return patched


def with_per_column_inputs(
    converted: onnx.ModelProto,
    schema: InputSchema,
    joined_input: str = _JOINED_INPUT,
    element_type: int = onnx.TensorProto.FLOAT,
) -> onnx.ModelProto:
    """Give a graph converted with one [batch, k] input one [batch, 1] input per column."""
    graph = converted.graph
    concat = onnx.helper.make_node(
        "Concat",
        [column.tensor_name for column in schema.columns],
        [joined_input],
        axis=1,
        name="modelship_join_columns",
    )
    graph.node.insert(0, concat)
    del graph.input[:]
    graph.input.extend(
        onnx.helper.make_tensor_value_info(column.tensor_name, element_type, [None, 1])
        for column in schema.columns
    )
    return converted


def _text_options(model: Any) -> dict[int, dict[str, Any]]:
    """Options for the text vectorizers: a locale every glibc has, and sklearn's tokens.

    skl2onnx leaves the StringNormalizer's locale unset and onnxruntime then asks for
    en_US.UTF-8, which slim images (and the serving image) lack; C.UTF-8 is built into
    glibc >= 2.35 and lowercases Unicode as Python does. onnxruntime's tokenizer is re2,
    whose \\w is ASCII only: scikit-learn's default pattern is spelled with Unicode classes.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    options: dict[int, dict[str, Any]] = {}
    for part in _fitted_parts(model):
        if isinstance(part, CountVectorizer):  # TfidfVectorizer is one too
            pattern = part.token_pattern
            options[id(part)] = {"locale": TEXT_LOCALE}
            if pattern == _SKLEARN_DEFAULT_TOKENS:
                options[id(part)]["tokenexp"] = _RE2_DEFAULT_TOKENS
            elif isinstance(pattern, str):  # the parity check tells whether re2 reads it alike
                options[id(part)]["tokenexp"] = pattern.removeprefix("(?u)")
    return options


def _one_line(error: BaseException) -> str:
    text = one_line(error) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _conversion_variants(model: Any, precision: Precision) -> list[Any]:
    if precision == "float32":
        return [model]
    if splits_float32(final_estimator(model)):
        return [with_float32_cast(model)]
    # Other estimators compute in double themselves; the cast is the fallback for
    # converters that take only float.
    return [model, with_float32_cast(model)]


def convert_sklearn_model(
    model: Any, schema: InputSchema, precision: Precision = "float32"
) -> onnx.ModelProto:
    """Convert a fitted estimator or Pipeline; raises UnsupportedModelError when no converter can.

    ``precision`` float64 converts with double inputs and preprocessing (see precision.py).
    """
    if is_catboost(model):
        return _convert_catboost_model(model, schema)
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    register_converters(_fitted_parts(model))
    model = _prepared(model)
    if precision == "float64":
        with_double_imputers(_fitted_parts(model))
    number_type = DoubleTensorType if precision == "float64" else FloatTensorType
    element_type = onnx.TensorProto.DOUBLE if precision == "float64" else onnx.TensorProto.FLOAT
    per_column = [
        (
            column.name,
            number_type([None, 1]) if column.kind == "numeric" else StringTensorType([None, 1]),
        )
        for column in schema.columns
    ]
    # Many converters of a bare estimator take a single input: for all-numeric data, convert
    # with one [batch, k] input and put a Concat of the per-column inputs in front.
    input_layouts: list[tuple[list[Any], bool]] = [(per_column, False)]
    if len(schema.columns) > 1 and all(column.kind == "numeric" for column in schema.columns):
        input_layouts.append(([(_JOINED_INPUT, number_type([None, len(schema.columns)]))], True))
    task = model_task(model)
    converted: onnx.ModelProto | None = None
    errors: list[str] = []
    for variant in _conversion_variants(model, precision):
        # Plain probability tensors instead of ZipMap; estimators without that option
        # (e.g. LinearSVC) already give plain score tensors.
        option_sets: list[dict[int, dict[str, Any]]] = [_text_options(variant)]
        if task == "classification":
            final = id(final_estimator(variant))
            option_sets = [
                {**option_sets[0], final: {"zipmap": False}},
                # No zipmap option (LinearSVC has none): an entry of its own all the same, or
                # skl2onnx's pipeline parser gives the final classifier zipmap=True.
                {**option_sets[0], final: {}},
            ]
        for initial_types, joined in input_layouts:
            for options in option_sets:
                try:
                    converted = convert_sklearn(
                        variant,
                        initial_types=initial_types,
                        options=copy.deepcopy(options),  # skl2onnx adds to it
                        target_opset=TARGET_OPSET,
                    )
                except Exception as error:
                    if _one_line(error) not in errors:
                        errors.append(_one_line(error))
                    continue
                if joined:
                    converted = with_per_column_inputs(converted, schema, element_type=element_type)
                break
            if converted is not None:
                break
        if converted is not None:
            break
    if converted is None:
        tried = "; ".join(f"({index}) {error}" for index, error in enumerate(errors, 1))
        raise UnsupportedModelError(
            f"skl2onnx cannot convert {type(model).__name__}"
            f" (final step {type(final_estimator(model)).__name__}) in {precision}; every"
            f" converter failed: {tried}. Supported are scikit-learn's usual transformers"
            " (ColumnTransformer, scalers, encoders, imputers), the classifiers/regressors"
            " listed by skl2onnx.supported_converters(), XGBoost and LightGBM"
        )
    scores = scores_output(scores_method(model))
    converted = _named_like_modelship(converted, schema, task, scores)
    if task == "classification" and not with_labels_only(converted, model):
        with_vote_tie_label(converted, model, final_estimator(model), LABEL_OUTPUT, scores)
        with_original_label_type(converted, model, LABEL_OUTPUT)
        with_probabilities_clipped(converted)
        onnx.checker.check_model(converted)
    return converted


def _named_like_modelship(
    converted: onnx.ModelProto, schema: InputSchema, task: str, scores: str
) -> onnx.ModelProto:
    """Inputs named after the schema's tensors, outputs label and ``scores``, or prediction."""
    # Converters keep the order of the inputs but may rewrite names they dislike.
    graph_inputs = list(converted.graph.input)
    renames = {
        graph_input.name: column.tensor_name
        for graph_input, column in zip(graph_inputs, schema.columns, strict=True)
        if graph_input.name != column.tensor_name
    }
    outputs = [output.name for output in converted.graph.output]
    if task == "classification" and len(outputs) >= 2:
        renames.update({outputs[0]: LABEL_OUTPUT, outputs[1]: scores})
    elif task == "regression" and len(outputs) == 1:
        renames[outputs[0]] = PREDICTION_OUTPUT
    rename_values(converted, renames)
    onnx.checker.check_model(converted)
    return converted


def _convert_catboost_model(model: Any, schema: InputSchema) -> onnx.ModelProto:
    if any(column.kind != "numeric" for column in schema.columns):
        text = [column.name for column in schema.columns if column.kind != "numeric"]
        raise UnsupportedModelError(
            f"CatBoost exports ONNX only for numeric features, but {', '.join(text)} hold text;"
            " encode them as numbers before training"
        )
    exported = convert_catboost(model, len(schema.columns))
    joined = exported.graph.input[0].name
    converted = with_per_column_inputs(exported, schema, joined_input=joined)
    return _named_like_modelship(
        converted, schema, catboost_task(model), scores_output(scores_method(model))
    )
