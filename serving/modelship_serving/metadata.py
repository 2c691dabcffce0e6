"""The metadata file `modelship package` writes beside a model: `<repo>/<name>/modelship.json`.

It records what is needed to trust and to use the model later without the
original training code: the model file's sha256, the library versions that
produced it, the lineage given on the command line, the input schema (what the
batch scorer checks its input against) and a reference profile of the sample
(what drift is measured against). Triton ignores the file.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from modelship_serving.profile import ReferenceProfile

METADATA_FILENAME = "modelship.json"
METADATA_SCHEMA_VERSION = 1

ColumnKind = Literal["numeric", "categorical"]
"""numeric: sent to the model as a number; categorical: sent as a string."""

TritonDatatype = Literal[
    "BOOL", "UINT8", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputColumn(_Model):
    """One column of the table the model takes, and the model input that carries it."""

    name: str = Field(description="Column name in the training data (and in batch input files).")
    kind: ColumnKind = Field(description="How the column is treated: numeric or categorical.")
    source_dtype: str = Field(description="The pandas dtype the column had in the sample.")
    tensor_name: str = Field(
        description="Name of the model input that carries this column (one input per column);"
        " equals the column name unless that name is not a valid tensor name."
    )
    datatype: TritonDatatype = Field(description="Triton datatype of that input.")


class TensorSpec(_Model):
    """One model output as Triton exposes it."""

    name: str = Field(description="Output tensor name.")
    datatype: TritonDatatype = Field(description="Triton datatype.")
    dims: list[int] = Field(description="Shape per row, without the batch dimension.")
    role: Literal["label", "scores", "prediction", "other"] = Field(
        description="label: predicted class; scores: class probabilities or decision scores;"
        " prediction: a regressor's value."
    )


class InputSchema(_Model):
    """The table the model takes: one input tensor per column, each of shape [batch, 1]."""

    columns: list[InputColumn] = Field(description="The columns, in the model's input order.")

    def column_names(self) -> list[str]:
        """The column names, in order."""
        return [column.name for column in self.columns]


class Lineage(_Model):
    """Where the model came from, as given on the command line."""

    data_version: str | None = Field(default=None, description="Version of the training data.")
    data_uri: str | None = Field(default=None, description="Where the training data lives.")
    code_ref: str | None = Field(
        default=None, description="Reference of the training code (e.g. a git commit)."
    )
    parameters: dict[str, str] = Field(
        default_factory=dict, description="Training parameters, as key=value strings."
    )


class ParityReport(_Model):
    """How the converted model was checked against the original."""

    rows_checked: int = Field(description="Number of sample rows both models were run on.")
    labels_compared: bool = Field(
        description="Whether predicted labels were compared (and all agreed)."
    )
    scores_compared: bool = Field(description="Whether scores/predictions were compared.")
    absolute_tolerance: float = Field(
        description="atol of |onnx - original| <= atol + rtol*|original|."
    )
    relative_tolerance: float = Field(description="rtol of the same comparison.")
    max_absolute_difference: float = Field(
        description="Largest |onnx - original| seen over all scores."
    )
    precision: Literal["float32", "float64"] = Field(
        default="float32",
        description="float32: numeric inputs FP32, preprocessing in float32 (the first try);"
        " float64: shipped by the float64 retry after float32 parity failed, numeric inputs"
        " FP64, preprocessing in double and a float32 cast right before the tree ensemble.",
    )

    @model_serializer(mode="wrap")
    def _without_default_precision(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Written only when float64: earlier readers forbid unknown fields, and a float32
        # package is then byte for byte what they read.
        data: dict[str, Any] = handler(self)
        if data.get("precision") == "float32":
            del data["precision"]
        return data


class ModelMetadata(_Model):
    """Everything recorded about one packaged model version."""

    schema_version: int = Field(
        default=METADATA_SCHEMA_VERSION, description="Version of this file's layout."
    )
    name: str = Field(description="Model name (the Triton model directory).")
    version: str = Field(description="Model version (the Triton version directory, an integer).")
    created_at: datetime = Field(description="When the package was written (UTC).")
    source_format: Literal["sklearn", "onnx", "pickle", "torch"] = Field(
        description="What was packaged: sklearn (converted to ONNX), onnx (an ONNX file),"
        " pickle (the original pickle, served by the python backend: the pinned fallback) or"
        " torch (a PyTorch network, exported to ONNX)."
    )
    estimator: str | None = Field(
        default=None,
        description="Class of the scikit-learn estimator or PyTorch network (with its"
        " module), if any.",
    )
    task: Literal["classification", "regression", "unknown"] = Field(
        description="What the model predicts."
    )
    # pydantic picks the member of the exact type, so a bool or float target's classes keep
    # their type (its columns are probabilities_True or probabilities_1.0, as it answers).
    classes: list[str] | list[bool] | list[int] | list[float] | None = Field(
        default=None, description="Class labels, in the order of the scores' columns."
    )
    model_file: str = Field(
        description="Path of the model file (model.onnx, or the fallback's model.pkl) relative"
        " to the model directory."
    )
    model_sha256: str = Field(description="sha256 of the model file's bytes.")
    backend: Literal["onnxruntime", "python"] = Field(
        description="Triton backend the config names: onnxruntime, or python running onnxruntime."
    )
    libraries: dict[str, str] = Field(
        description="Versions of the libraries used to convert and check the model."
    )
    lineage: Lineage = Field(description="Data version, code reference and parameters.")
    input_schema: InputSchema = Field(description="The columns the model takes.")
    outputs: list[TensorSpec] = Field(description="The model's outputs, label first.")
    parity: ParityReport | None = Field(
        default=None,
        description="Result of the check against the original (scikit-learn and PyTorch"
        " models; an ONNX file has no original to check against).",
    )
    fallback_reason: str | None = Field(
        default=None,
        description="Why the model ships as its pinned pickle (the converters' first error"
        " line); written only for such a package.",
    )
    reference_profile: ReferenceProfile = Field(
        description="Statistics of the sample, the reference for drift checks."
    )

    @model_serializer(mode="wrap")
    def _without_absent_fallback(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # As parity's precision: earlier readers forbid unknown fields.
        data: dict[str, Any] = handler(self)
        if data.get("fallback_reason") is None:
            data.pop("fallback_reason", None)
        return data

    def write(self, path: Path) -> None:
        """Write as indented JSON."""
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> ModelMetadata:
        """Read a metadata file written by `write`."""
        return cls.model_validate_json(path.read_text(encoding="utf-8"))


def read_model_metadata(model_dir: Path) -> ModelMetadata:
    """The metadata of the model in ``model_dir`` (``<repo>/<name>``)."""
    return ModelMetadata.read(model_dir / METADATA_FILENAME)
