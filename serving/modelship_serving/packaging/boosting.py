"""XGBoost, LightGBM and CatBoost: converters registered lazily, models prepared for them.

XGBoost and LightGBM estimators (the scikit-learn API: XGBClassifier, LGBMRegressor, ...)
convert with onnxmltools' converters registered into skl2onnx, as skl2onnx documents
(``update_registered_converter`` with its linear shape calculators), so they also convert
inside scikit-learn pipelines. CatBoost writes ONNX itself (``save_model(format="onnx")``);
it is packaged on its own, not inside a pipeline. The libraries are optional: the
``boosting`` extra installs them, and a model of a family whose library is absent is
refused with a line that names the extra.
"""

from __future__ import annotations

import copy
import importlib
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import onnx

from modelship_serving.errors import UnsupportedModelError, one_line

BOOSTING_EXTRA = "pip install 'modelship[boosting]'"
_FAMILIES = {"xgboost": "XGBoost", "lightgbm": "LightGBM", "catboost": "CatBoost"}
_registered: set[str] = set()


def library_of(estimator: Any) -> str | None:
    """xgboost, lightgbm or catboost when ``estimator`` comes from that library."""
    root = type(estimator).__module__.split(".")[0]
    return root if root in _FAMILIES else None


def missing_library_message(library: str) -> str:
    """The one line for a model whose library (or its ONNX converter) is not installed."""
    return (
        f"{_FAMILIES.get(library, library)} models need {library} and onnxmltools;"
        f" install the boosting extra: {BOOSTING_EXTRA}"
    )


def _import(name: str, library: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise UnsupportedModelError(missing_library_message(library)) from error


def is_catboost(model: Any) -> bool:
    """A CatBoost model (it is no scikit-learn estimator, but packages like one)."""
    return library_of(model) == "catboost"


def register_converters(parts: Iterable[Any]) -> None:
    """Register the onnxmltools converters for the XGBoost/LightGBM estimators in ``parts``."""
    for part in parts:
        library = library_of(part)
        if library == "catboost":
            raise UnsupportedModelError(
                "CatBoost inside a scikit-learn pipeline is not supported (CatBoost exports"
                " ONNX only on its own); package the CatBoost model alone, fitted on the"
                " columns it takes"
            )
        if library in ("xgboost", "lightgbm") and library not in _registered:
            _register(library)
            _registered.add(library)


def _register(library: str) -> None:
    skl2onnx = _import("skl2onnx", library)
    shapes = _import("skl2onnx.common.shape_calculator", library)
    options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    if library == "xgboost":
        xgboost = _import("xgboost", library)
        converter = _import(
            "onnxmltools.convert.xgboost.operator_converters.XGBoost", library
        ).convert_xgboost
        classifier, regressor = xgboost.XGBClassifier, xgboost.XGBRegressor
    else:
        lightgbm = _import("lightgbm", library)
        converter = _import(
            "onnxmltools.convert.lightgbm.operator_converters.LightGbm", library
        ).convert_lightgbm
        classifier, regressor = lightgbm.LGBMClassifier, lightgbm.LGBMRegressor
    skl2onnx.update_registered_converter(
        classifier,
        f"modelship{classifier.__name__}",
        shapes.calculate_linear_classifier_output_shapes,
        converter,
        options=options,
    )
    skl2onnx.update_registered_converter(
        regressor,
        f"modelship{regressor.__name__}",
        shapes.calculate_linear_regressor_output_shapes,
        converter,
        options={"split": None},
    )


def with_plain_xgboost_features(model: Any, parts: Iterable[Any]) -> None:
    """Give the XGBoost boosters among ``parts`` (of a copy) the f0..fn features onnxmltools reads.

    A booster trained on a DataFrame keeps the column names, and pandas bool columns become
    indicator features whose splits onnxmltools cannot read; as plain numeric features the
    same trees split at < 1, which is what an indicator split means for 0/1.
    """
    for part in parts:
        if library_of(part) == "xgboost" and hasattr(part, "get_booster"):
            booster = part.get_booster()
            booster.feature_names = None
            booster.feature_types = None


def convert_catboost(model: Any, column_count: int) -> onnx.ModelProto:
    """CatBoost's own ONNX export, with the ZipMap removed and the outputs named as modelship's.

    The graph takes CatBoost's single [batch, k] "features" input.
    """
    with tempfile.TemporaryDirectory(prefix="modelship-catboost-") as work:
        path = Path(work) / "model.onnx"
        try:
            copy.copy(model).save_model(str(path), format="onnx")
        except Exception as error:
            reason = one_line(error)
            raise UnsupportedModelError(
                f"CatBoost cannot export {type(model).__name__} to ONNX ({reason}); CatBoost"
                " exports only models without categorical or text features"
            ) from error
        exported = onnx.load(str(path))
    graph = exported.graph
    zipmaps = [node for node in graph.node if node.op_type == "ZipMap"]
    if zipmaps:
        # TreeEnsembleClassifier's second output is already the [batch, classes] tensor.
        probabilities = zipmaps[0].input[0]
        graph.node.remove(zipmaps[0])
        outputs = list(graph.output)
        del graph.output[:]
        graph.output.extend(
            [
                outputs[0],
                onnx.helper.make_tensor_value_info(
                    probabilities, onnx.TensorProto.FLOAT, [None, None]
                ),
            ]
        )
    else:
        first = graph.output[0]
        del graph.output[:]
        # CatBoost declares [batch] but gives [batch, 1].
        graph.output.append(
            onnx.helper.make_tensor_value_info(first.name, onnx.TensorProto.FLOAT, [None, 1])
        )
    if not any(opset.domain in ("", "ai.onnx") for opset in exported.opset_import):
        exported.opset_import.append(onnx.helper.make_opsetid("", 17))
    dims = graph.input[0].type.tensor_type.shape.dim
    if len(dims) == 2 and dims[1].dim_value not in (0, column_count):
        raise UnsupportedModelError(
            f"the CatBoost model takes {dims[1].dim_value} features but the sample gives"
            f" {column_count} columns"
        )
    return exported


def catboost_task(model: Any) -> Literal["classification", "regression", "unknown"]:
    """classification or regression, from CatBoost's class (it has no scikit-learn tags)."""
    name = type(model).__name__
    if "Classifier" in name:
        return "classification"
    if "Regressor" in name:
        return "regression"
    return "unknown"
