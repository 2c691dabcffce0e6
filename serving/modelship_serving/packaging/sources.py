"""What each kind of model becomes before it is written: an ONNX graph converted from a
scikit-learn model (or its pinned pickle, when no converter carries it), an ONNX file as
given, or a PyTorch network exported to ONNX, each with its input schema and parity.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import onnx
import pandas as pd

from modelship_serving.errors import (
    PackagingError,
    ParityError,
    SampleError,
    UnsupportedModelError,
    one_line,
)
from modelship_serving.metadata import (
    InputSchema,
    ParityReport,
)
from modelship_serving.packaging import fallback as pickle_fallback
from modelship_serving.packaging import pytorch
from modelship_serving.packaging.boosting import is_catboost
from modelship_serving.packaging.convert import (
    convert_sklearn_model,
    final_estimator,
    model_task,
    with_per_column_inputs,
)
from modelship_serving.packaging.onnx_files import (
    check_class_count,
    class_labels,
    joined_input,
    joined_input_schema,
    with_label_output,
)
from modelship_serving.packaging.outputs import PREDICTION_OUTPUT, SCORES_OUTPUT
from modelship_serving.packaging.parity import (
    DEFAULT_ABSOLUTE_TOLERANCE,
    DEFAULT_RELATIVE_TOLERANCE,
    PARITY_FAILED,
    GraphRunError,
    check_parity,
    model_inputs,
    onnx_session,
    original_predictions,
    run_onnx,
)
from modelship_serving.packaging.precision import Precision, schema_for
from modelship_serving.packaging.schema import (
    schema_from_onnx,
    schema_from_sample,
    sklearn_input_columns,
)


@dataclass(frozen=True)
class Packaged:
    """What one path (a conversion, an ONNX file, the pickle fallback) gives to be written."""

    signature: onnx.ModelProto
    """The served graph, or (fallback) a graph of its inputs and outputs only."""
    schema: InputSchema
    task: Literal["classification", "regression", "unknown"]
    source_format: Literal["sklearn", "onnx", "pickle", "torch"]
    estimator: str | None = None
    classes: list[Any] | None = None
    parity: ParityReport | None = None
    fallback_reason: str | None = None
    environment: dict[str, Any] | None = None
    """The fallback's pinned environment; None for an ONNX graph."""
    original: Any = None
    """The fallback's model, whose answers the written pickle's are checked against."""
    pickle_path: Path | None = None
    """The fallback's pickle file, written as it is."""
    tolerances: tuple[float, float] = (DEFAULT_ABSOLUTE_TOLERANCE, DEFAULT_RELATIVE_TOLERANCE)
    """The fallback's parity tolerances (atol, rtol), for its check of what is written."""


def from_sklearn(
    model: Any,
    model_path: Path,
    sample: pd.DataFrame,
    absolute_tolerance: float,
    relative_tolerance: float,
    allow_fallback: bool,
) -> Packaged:
    """Converted with parity; else, when allowed, the pinned pickle (parity checked later,
    on what is written)."""
    estimator = f"{type(model).__module__}.{type(model).__qualname__}"
    if not hasattr(model, "predict"):
        raise UnsupportedModelError(
            f"{type(final_estimator(model)).__name__} has no predict method: it labels only the"
            " rows it was fitted on, so there is nothing to serve for new rows; package a model"
            " that predicts (for clusters: KMeans, or a classifier trained on the cluster labels)"
        )
    schema = schema_from_sample(sample, sklearn_input_columns(model, sample))
    # The original must take the sample first: a type problem is the sample's, not skl2onnx's.
    inputs = model_inputs(model, sample, schema.column_names())
    original_predictions(model, inputs)
    task = model_task(model)
    classes_attr = getattr(model, "classes_", None)
    classes = (
        None
        if classes_attr is None or isinstance(classes_attr, list)  # a list per output
        else [c.item() if hasattr(c, "item") else c for c in classes_attr]
    )
    try:
        converted, schema, parity = _convert_with_parity(
            model, schema, sample, task, absolute_tolerance, relative_tolerance
        )
    except SampleError:
        raise
    except PackagingError as failure:
        if not allow_fallback:
            raise
        reason = one_line(failure)
        reason = reason if len(reason) <= 400 else reason[:397] + "..."
        served_schema = schema_for(schema, "float64")
        pickled = pickle_fallback.pickled_model(model, inputs, served_schema, task)
        return Packaged(
            signature=pickled.signature,
            schema=served_schema,
            task=task,
            source_format="pickle",
            estimator=estimator,
            classes=classes,
            fallback_reason=reason,
            environment=pickled.environment,
            original=model,
            pickle_path=model_path,
            tolerances=(absolute_tolerance, relative_tolerance),
        )
    return Packaged(converted, schema, task, "sklearn", estimator, classes, parity)


def from_onnx(model: onnx.ModelProto, sample: pd.DataFrame, classes: list[str] | None) -> Packaged:
    """An ONNX file: one input per column, or one [batch, k] input joined from the columns."""
    joined = joined_input(model)
    if joined is not None:
        schema = joined_input_schema(joined, sample)
        model = with_per_column_inputs(
            model, schema, joined_input=joined.name, element_type=joined.type.tensor_type.elem_type
        )
    else:
        schema = schema_from_onnx(model, sample)
    if classes is not None:
        model = with_label_output(model, classes)
    answers = run_onnx(onnx_session(model), sample, schema)  # it must at least run on the sample
    if classes is not None:
        check_class_count(list(answers.values())[1], classes)
    task = onnx_task(model)
    labels = None if classes is None else class_labels(classes)
    return Packaged(model, schema, task, "onnx", classes=labels)


def from_torch(
    module: Any,
    sample: pd.DataFrame,
    classes: list[str] | None,
    absolute_tolerance: float,
    relative_tolerance: float,
) -> Packaged:
    """A PyTorch network, exported to ONNX and joined to per-column inputs like an ONNX
    file's [batch, k] input; parity against the module's own outputs (in eval mode)."""
    labels = None if classes is None else class_labels(classes)
    dtype = pytorch.input_dtype(module)
    reference = pytorch.TorchReference(module, dtype, labels)
    was_training = bool(module.training)
    module.eval()  # dropout off, batch norm on its running statistics: as it predicts
    try:
        scores = pytorch.reference_outputs(reference, sample)
        if classes is not None:
            check_class_count(scores, classes)
        output = SCORES_OUTPUT if classes is not None else PREDICTION_OUTPUT
        model = pytorch.export_to_onnx(module, sample.iloc[:2], dtype, output)
        joined = model.graph.input[0]
        schema = joined_input_schema(joined, sample)
        model = with_per_column_inputs(
            model,
            schema,
            joined_input=joined.name,
            element_type=joined.type.tensor_type.elem_type,
        )
        if classes is not None:
            model = with_label_output(model, classes)
        task = onnx_task(model)
        parity = check_parity(
            reference,
            functools.partial(run_onnx, onnx_session(model), schema=schema),
            sample,
            schema,
            task,
            absolute_tolerance,
            relative_tolerance,
        )
    finally:
        module.train(was_training)
    return Packaged(
        model,
        schema,
        task,
        "torch",
        pytorch.module_name(module),
        labels,
        parity,
    )


def _convert_with_parity(
    model: Any,
    schema: InputSchema,
    sample: pd.DataFrame,
    task: str,
    absolute_tolerance: float,
    relative_tolerance: float,
) -> tuple[onnx.ModelProto, InputSchema, ParityReport]:
    """Convert in float32; only when its parity fails, retry in float64 (see precision.py).

    Whichever passes parity ships, with the schema it is served with; the tolerance is the
    same for both.
    """
    float32_failure: ParityError | None = None
    precisions: list[Precision] = ["float32"] if is_catboost(model) else ["float32", "float64"]
    for precision in precisions:
        served_schema = schema_for(schema, precision)
        try:
            converted = convert_sklearn_model(model, served_schema, precision)
            session = onnx_session(converted)
            parity = check_parity(
                model,
                functools.partial(run_onnx, session, schema=served_schema),
                sample,
                served_schema,
                task,
                absolute_tolerance,
                relative_tolerance,
            )
        except GraphRunError as failure:
            error: PackagingError = UnsupportedModelError(
                f"the graph skl2onnx converted fails on the sample in {precision} ({failure})"
            )
            if float32_failure is None:
                raise error from failure
            raise ParityError(
                f"{float32_failure}; the float64 retry failed too: {error}"
            ) from failure
        except ParityError as failure:
            if float32_failure is None:
                float32_failure = failure
                continue
            differences = str(failure).partition(f"{PARITY_FAILED}: ")[2] or str(failure)
            raise ParityError(
                f"{float32_failure}; the float64 retry (double preprocessing, float32 cast"
                f" before the trees) differs too: {differences}; without --no-fallback the model"
                " ships as its pinned pickle instead"
            ) from failure
        except PackagingError as failure:
            if float32_failure is None:
                raise
            raise ParityError(
                f"{float32_failure}; the float64 retry failed too: {failure}"
            ) from failure
        return converted, served_schema, parity.model_copy(update={"precision": precision})
    assert float32_failure is not None
    raise float32_failure


def onnx_task(model: onnx.ModelProto) -> Literal["classification", "regression", "unknown"]:
    outputs = list(model.graph.output)
    first = outputs[0].type.tensor_type if outputs else None
    if first is None:
        return "unknown"
    if len(outputs) >= 2 and first.elem_type in (onnx.TensorProto.INT64, onnx.TensorProto.STRING):
        return "classification"
    if len(outputs) == 1 and first.elem_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE):
        return "regression"
    return "unknown"
