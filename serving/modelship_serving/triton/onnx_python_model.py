"""Triton python-backend model that runs `model.onnx` (beside this file) with onnxruntime.

`modelship package --python-backend` copies this file to `<name>/<version>/model.py`,
and `modelship serve` does the same in a scratch repository when the local
Triton build has no onnxruntime backend. Requests that Triton's dynamic batcher
hands over together are joined into one onnxruntime run and split again.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


def _to_model_input(array: Any) -> Any:
    # Triton hands strings over as bytes objects; onnxruntime wants str.
    if array.dtype == np.object_:
        return np.array(
            [
                value.decode("utf-8") if isinstance(value, bytes) else str(value)
                for value in array.reshape(-1)
            ],
            dtype=object,
        ).reshape(array.shape)
    return array


def _to_triton_output(array: Any) -> Any:
    if array.dtype.kind in "OU":
        return np.array(
            [str(value).encode("utf-8") for value in array.reshape(-1)], dtype=object
        ).reshape(array.shape)
    return array


class TritonPythonModel:
    """One instance per Triton model instance."""

    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        self.batching = int(config.get("max_batch_size", 0)) > 0
        self.input_names = [tensor["name"] for tensor in config["input"]]
        self.output_names = [tensor["name"] for tensor in config["output"]]
        here = os.path.dirname(os.path.abspath(__file__))
        options = ort.SessionOptions()
        threads = os.environ.get("MODELSHIP_ORT_THREADS")
        if threads:
            options.intra_op_num_threads = int(threads)
        self.session = ort.InferenceSession(
            os.path.join(here, "model.onnx"), options, providers=["CPUExecutionProvider"]
        )

    def execute(self, requests: list[Any]) -> list[Any]:
        row_counts: list[int] = []
        columns: dict[str, list[Any]] = {name: [] for name in self.input_names}
        for request in requests:
            for name in self.input_names:
                columns[name].append(pb_utils.get_input_tensor_by_name(request, name).as_numpy())
            row_counts.append(columns[self.input_names[0]][-1].shape[0])
        feeds = {name: _to_model_input(np.concatenate(parts)) for name, parts in columns.items()}
        try:
            results = self.session.run(self.output_names, feeds)
        except Exception as error:  # one bad request fails the whole merged batch
            return [
                pb_utils.InferenceResponse(error=pb_utils.TritonError(str(error))) for _ in requests
            ]
        if self.batching:
            results = [value.reshape(-1, 1) if value.ndim == 1 else value for value in results]
        responses = []
        start = 0
        for count in row_counts:
            tensors = [
                pb_utils.Tensor(name, _to_triton_output(value[start : start + count]))
                for name, value in zip(self.output_names, results, strict=True)
            ]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            start += count
        return responses
