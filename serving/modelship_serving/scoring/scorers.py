"""Turning a chunk of rows into predictions: in-process onnxruntime, or Triton over gRPC.

All return the model's outputs by name as numpy arrays with one row per input row. A chunk
comes as a scoring job reads it (a :class:`Chunk` of Arrow columns) or as a pandas
DataFrame (`modelship evaluate`); onnxruntime takes Arrow columns without pandas, the others
get a DataFrame.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import numpy as np

from modelship_serving.errors import ScoringError
from modelship_serving.metadata import ModelMetadata
from modelship_serving.scoring.chunk import Chunk
from modelship_serving.scoring.feeds import chunk_feeds

if TYPE_CHECKING:
    import pandas as pd

Rows: TypeAlias = "Chunk | pd.DataFrame"


class Scorer(Protocol):
    """Scores one chunk."""

    description: str

    def score(self, rows: Rows) -> dict[str, np.ndarray[Any, Any]]: ...

    def close(self) -> None: ...


def as_frame(rows: Rows) -> pd.DataFrame:
    """``rows`` as a pandas DataFrame indexed by row number."""
    return rows.to_pandas() if isinstance(rows, Chunk) else rows


class InProcessScorer:
    """onnxruntime on the packaged model.onnx, in this process."""

    def __init__(
        self, model_file: Path, metadata: ModelMetadata, threads: int | None = None
    ) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        # Reading, drift counting and writing run beside the model on the same cores (see
        # modelship_serving.scoring.pipeline): threads spinning between runs would take
        # their time (a quarter of the scoring time on 2 cores).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # A GPU batch pod (batch[].gpu) whose image has onnxruntime with CUDA scores on it.
        providers = [
            provider
            for provider in ("CUDAExecutionProvider", "CPUExecutionProvider")
            if provider in ort.get_available_providers()
        ]
        try:
            self.session = ort.InferenceSession(str(model_file), options, providers=providers)
        except Exception as error:
            raise ScoringError(f"cannot load {model_file} with onnxruntime: {error}") from error
        self.metadata = metadata
        self.output_names = [spec.name for spec in metadata.outputs]
        on_gpu = self.session.get_providers()[0] == "CUDAExecutionProvider"
        self.description = f"onnxruntime in-process ({model_file.name}{', CUDA' if on_gpu else ''})"

    def score(self, rows: Rows) -> dict[str, np.ndarray[Any, Any]]:
        if isinstance(rows, Chunk):
            feeds = chunk_feeds(rows, self.metadata.input_schema)
        else:
            from modelship_serving.packaging.schema import frame_to_feeds

            feeds = frame_to_feeds(rows, self.metadata.input_schema)
        values = self.session.run(self.output_names, feeds)
        return {
            name: np.asarray(value) for name, value in zip(self.output_names, values, strict=True)
        }

    def close(self) -> None:
        pass


def in_process_scorer(
    model_file: Path, metadata: ModelMetadata, threads: int | None = None
) -> Scorer:
    """The package's model in this process: onnxruntime, or the pinned fallback's own runner
    for a package that holds the original pickle."""
    if metadata.source_format == "pickle":
        return _PickleScorer(model_file, metadata)
    return InProcessScorer(model_file, metadata, threads=threads)


class _PickleScorer:
    """The pinned fallback's runner (packaging.fallback.PickledScorer), on a DataFrame."""

    def __init__(self, model_file: Path, metadata: ModelMetadata) -> None:
        from modelship_serving.packaging.fallback import PickledScorer

        self.pickled = PickledScorer(model_file, metadata)
        self.description = self.pickled.description

    def score(self, rows: Rows) -> dict[str, np.ndarray[Any, Any]]:
        return self.pickled.score(as_frame(rows))

    def close(self) -> None:
        self.pickled.close()


class TritonScorer:
    """Triton over gRPC, with up to ``concurrency`` requests of ``rows_per_request`` in flight."""

    def __init__(
        self, url: str, metadata: ModelMetadata, rows_per_request: int = 64, concurrency: int = 4
    ) -> None:
        import tritonclient.grpc as triton_grpc

        self.triton_grpc = triton_grpc
        self.url = url.removeprefix("grpc://")
        self.metadata = metadata
        self.rows_per_request = rows_per_request
        self.client = triton_grpc.InferenceServerClient(self.url)
        try:
            ready = self.client.is_model_ready(metadata.name, metadata.version)
        except Exception as error:
            raise ScoringError(f"cannot reach Triton at {self.url}: {error}") from error
        if not ready:
            raise ScoringError(
                f"Triton at {self.url} has no ready model {metadata.name}"
                f" version {metadata.version}"
            )
        self.pool = ThreadPoolExecutor(max_workers=concurrency)
        self.description = f"Triton gRPC {self.url} ({concurrency} requests in flight)"

    def _request(self, frame: pd.DataFrame) -> dict[str, np.ndarray[Any, Any]]:
        from modelship_serving.triton.client import infer_inputs

        inputs = infer_inputs(frame, self.metadata.input_schema, self.triton_grpc.InferInput)
        outputs = [
            self.triton_grpc.InferRequestedOutput(spec.name) for spec in self.metadata.outputs
        ]
        result = self.client.infer(
            self.metadata.name, inputs, model_version=self.metadata.version, outputs=outputs
        )
        return {spec.name: result.as_numpy(spec.name) for spec in self.metadata.outputs}

    def score(self, rows: Rows) -> dict[str, np.ndarray[Any, Any]]:
        frame = as_frame(rows)
        slices = [
            frame.iloc[start : start + self.rows_per_request]
            for start in range(0, len(frame), self.rows_per_request)
        ]
        parts = list(self.pool.map(self._request, slices))
        return {
            spec.name: np.concatenate([part[spec.name] for part in parts])
            for spec in self.metadata.outputs
        }

    def close(self) -> None:
        self.pool.shutdown()
        self.client.close()
