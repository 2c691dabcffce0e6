"""The model the builder tests' `fraud` ModelDeployment serves, as resolve_model gives it."""

from __future__ import annotations

from typing import Any

from modelship.api.model_deployment import ModelFormat
from modelship.builders import ResolvedModel


def fraud_model(version: str = "3", **fields: Any) -> ResolvedModel:
    """`fraud` at ``version`` from s3://models/fraud/<version>, ONNX, with ``fields`` set."""
    return ResolvedModel(
        name="fraud",
        version=version,
        uri=f"s3://models/fraud/{version}",
        format=ModelFormat.ONNX,
        **fields,
    )
