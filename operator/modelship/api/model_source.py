"""Which model a ModelDeployment serves: a packaged model repository, or a RetrainJob's."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from modelship.api.base import (
    ApiModel,
    DnsLabel,
    DnsSubdomain,
    ModelUri,
    Quantity,
    Sha256,
)
from modelship.api.cel import Rule
from modelship.api.common import Lineage

MODEL_VERSION_PATTERN = r"^[A-Za-z0-9]([-._A-Za-z0-9]*[A-Za-z0-9])?$"
# A model version, as model.version and a trainer's result name it.
ModelVersion = Annotated[str, Field(min_length=1, max_length=63, pattern=MODEL_VERSION_PATTERN)]


class ModelFormat(StrEnum):
    ONNX = "onnx"
    TENSORRT = "tensorrt"
    TORCHSCRIPT = "torchscript"
    TENSORFLOW = "tensorflow"
    PYTHON = "python"


class ModelSource(ApiModel):
    """Which model to serve: a packaged Triton model repository and its provenance."""

    rules = (
        Rule(
            rule="has(self.uri) == has(self.version)",
            message="model.uri and model.version go together",
            holds=lambda m: (m.uri is None) == (m.version is None),
        ),
        Rule(
            rule="has(self.uri) != has(self.fromRetrainJob)",
            message="set exactly one of model.uri (with model.version) or model.fromRetrainJob",
            holds=lambda m: (m.uri is None) != (m.from_retrain_job is None),
        ),
    )

    name: DnsLabel = Field(
        description="Model name: the directory name in the Triton model repository."
    )
    version: ModelVersion | None = Field(
        default=None,
        description="Version of the model. A new version (or uri) makes a new revision.",
    )
    uri: ModelUri | None = Field(
        default=None,
        description=(
            "Where the packaged model repository is: s3://, gs://, az://CONTAINER/PATH, "
            "http(s)://, pvc://CLAIM/PATH (CLAIM a PersistentVolumeClaim's name) or file:// "
            "(tests); at most 2048 characters."
        ),
    )
    format: ModelFormat = Field(
        default=ModelFormat.ONNX, description="Format of the model inside the repository."
    )
    sha256: Sha256 | None = Field(
        default=None,
        description="Digest printed by `modelship package`; the pod refuses a model that differs.",
    )
    credentials_secret: DnsSubdomain | None = Field(
        default=None,
        description=(
            "Secret whose keys become the fetch container's environment "
            "(e.g. AWS_ACCESS_KEY_ID, AZURE_STORAGE_CONNECTION_STRING); referenced, never copied."
        ),
    )
    lineage: Lineage | None = Field(
        default=None, description="Data, code and parameters this version was trained with."
    )
    size_limit: Quantity = Field(
        default="20Gi",
        description=(
            "Most the fetched model may take on disk, archive and extracted files together: "
            "the fetch stops as soon as it is passed, and the pod's model volume is limited "
            "to this plus 64Mi (the packaged configs that configure keeps)."
        ),
    )
    fetch_timeout_seconds: int = Field(
        default=1800,
        ge=1,
        le=86400,
        description="Seconds the whole fetch may take, retries included, before the pod fails.",
    )
    from_retrain_job: DnsLabel | None = Field(
        default=None,
        description=(
            "Instead of uri and version: serve the latest version this RetrainJob "
            "(same namespace) validated and promoted."
        ),
    )
