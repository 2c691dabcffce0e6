"""The float64 retry: double-precision preprocessing and a float32 cast before the trees.

scikit-learn preprocesses in float64; a graph converted with float inputs preprocesses in
float32, which can push values across a tree's split thresholds (skl2onnx's "Issues when
switching to float"). skl2onnx's remedy is double inputs, double preprocessing and a
``CastTransformer`` to float32 right before the tree ensemble, which is where scikit-learn
itself casts (trees, forests and gradient boosting split float32 values). modelship tries
float32 first and this only when float32 parity fails; the tolerance is never widened.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import onnx

from modelship_serving.metadata import InputSchema
from modelship_serving.packaging.boosting import library_of

Precision = Literal["float32", "float64"]
CAST_STEP = "modelship_cast_to_float32"


def schema_for(schema: InputSchema, precision: Precision) -> InputSchema:
    """``schema`` with numeric columns served as FP32 or FP64."""
    datatype = "FP64" if precision == "float64" else "FP32"
    return InputSchema(
        columns=[
            column.model_copy(update={"datatype": datatype}) if column.kind == "numeric" else column
            for column in schema.columns
        ]
    )


def splits_float32(estimator: Any) -> bool:
    """Whether ``estimator`` compares float32 values (scikit-learn trees, XGBoost, LightGBM)."""
    from sklearn.ensemble import IsolationForest
    from sklearn.ensemble._forest import BaseForest
    from sklearn.ensemble._gb import BaseGradientBoosting
    from sklearn.tree import BaseDecisionTree

    tree_based = (BaseDecisionTree, BaseForest, BaseGradientBoosting, IsolationForest)
    return isinstance(estimator, tree_based) or library_of(estimator) in ("xgboost", "lightgbm")


def with_float32_cast(model: Any) -> Any:
    """A copy of ``model`` with a CastTransformer(float32) right before its final estimator."""
    from skl2onnx.sklapi import CastTransformer
    from sklearn.pipeline import Pipeline

    cast = (CAST_STEP, CastTransformer())
    if not isinstance(model, Pipeline):
        return Pipeline([cast, ("estimator", copy.deepcopy(model))])
    patched = copy.deepcopy(model)
    innermost = patched
    while isinstance(innermost.steps[-1][1], Pipeline):
        innermost = innermost.steps[-1][1]
    innermost.steps.insert(len(innermost.steps) - 1, cast)
    return patched


def _double_imputer_class() -> type[Any]:
    """A SimpleImputer whose converter works in double.

    skl2onnx converts SimpleImputer to ai.onnx.ml's Imputer, which onnxruntime runs on float
    only; in double the same fill is IsNaN + Where with the fitted statistics.
    """
    global _double_imputer
    if _double_imputer is not None:
        return _double_imputer
    from skl2onnx import update_registered_converter
    from skl2onnx.shape_calculators.imputer import calculate_sklearn_imputer_output_shapes
    from sklearn.impute import SimpleImputer

    class DoubleSimpleImputer(SimpleImputer):  # type: ignore[misc]
        """A fitted SimpleImputer that fills NaN in double (only in the converted copy)."""

    def convert(scope: Any, operator: Any, container: Any) -> None:
        imputer = operator.raw_operator
        inputs = [variable.full_name for variable in operator.inputs]
        joined = inputs[0]
        if len(inputs) > 1:
            joined = scope.get_unique_variable_name("imputer_input")
            container.add_node(
                "Concat", inputs, [joined], axis=1, name=scope.get_unique_operator_name("Concat")
            )
        statistics = np.asarray(imputer.statistics_, dtype=np.float64)
        statistics_name = scope.get_unique_variable_name("imputer_statistics")
        container.add_initializer(
            statistics_name, onnx.TensorProto.DOUBLE, [len(statistics)], statistics.tolist()
        )
        missing = scope.get_unique_variable_name("imputer_missing")
        container.add_node(
            "IsNaN", [joined], [missing], name=scope.get_unique_operator_name("IsNaN")
        )
        container.add_node(
            "Where",
            [missing, statistics_name, joined],
            [operator.outputs[0].full_name],
            name=scope.get_unique_operator_name("Where"),
        )

    update_registered_converter(
        DoubleSimpleImputer,
        "modelshipDoubleSimpleImputer",
        calculate_sklearn_imputer_output_shapes,
        convert,
    )
    _double_imputer = DoubleSimpleImputer
    return DoubleSimpleImputer


_double_imputer: type[Any] | None = None


def with_double_imputers(parts: Iterable[Any]) -> None:
    """Let the numeric NaN-filling SimpleImputers among ``parts`` (of a copy) convert in double."""
    from sklearn.impute import SimpleImputer

    for part in parts:
        statistics = getattr(part, "statistics_", None)
        if (
            type(part) is SimpleImputer
            and statistics is not None
            and statistics.dtype.kind == "f"
            and not np.isnan(statistics).any()
            and isinstance(part.missing_values, float)
            and np.isnan(part.missing_values)
            and not part.add_indicator
        ):
            part.__class__ = _double_imputer_class()
