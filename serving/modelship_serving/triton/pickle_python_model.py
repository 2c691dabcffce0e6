"""Triton python-backend model that serves the pickled original model (beside this file).

`modelship package` writes this as `<name>/<version>/model.py` when no converter carries the
model (the pinned fallback), with `model.pkl` (the user's file, as given) and
`environment.json` (the interpreter and library versions it was packaged and checked with,
the columns and the outputs). At load it refuses, in one line, an environment whose versions
differ: a pickle is only the same model where the same code unpickles it. It takes the same
per-column inputs and gives the same outputs as a converted package, so clients,
`modelship score` and the operator treat both alike. `modelship package` checks parity with
this very file, and `modelship score` scores with it in-process.

Only the standard library, numpy, pandas and joblib are imported here: nothing of modelship,
which a serving image need not carry in Triton's interpreter.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
from typing import Any

ENVIRONMENT_FILE = "environment.json"
MODEL_FILE = "model.pkl"


def environment_mismatches(recorded: dict[str, Any]) -> list[str]:
    """What differs between this interpreter and the recorded one (python major.minor and
    every recorded library's exact version)."""
    problems: list[str] = []
    here = platform.python_version()
    if here.split(".")[:2] != str(recorded["python"]).split(".")[:2]:
        problems.append(f"python {recorded['python']} (here {here})")
    for name, version in sorted(recorded["packages"].items()):
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = "not installed"
        if installed != version:
            problems.append(f"{name}=={version} (here {installed})")
    return problems


def read_environment(directory: str) -> dict[str, Any]:
    """The manifest beside the model."""
    with open(os.path.join(directory, ENVIRONMENT_FILE), encoding="utf-8") as manifest:
        loaded: dict[str, Any] = json.load(manifest)
    return loaded


def load_checked(directory: str) -> tuple[Any, dict[str, Any]]:
    """The unpickled model and its manifest; RuntimeError (one line) on a version mismatch."""
    environment = read_environment(directory)
    problems = environment_mismatches(environment)
    if problems:
        raise RuntimeError(
            f"the pickled model in {directory} needs {', '.join(problems)}; serve it where the"
            f" versions in {ENVIRONMENT_FILE} are installed (pip install -r requirements.txt"
            " beside it) or package it again in this environment"
        )
    import joblib

    return joblib.load(os.path.join(directory, MODEL_FILE)), environment


def _text(array: Any) -> Any:
    import numpy as np

    values = [
        value.decode("utf-8") if isinstance(value, bytes) else str(value)
        for value in array.reshape(-1)
    ]
    # "" is how a gap travels in a string tensor (as for converted models): back to a gap.
    return np.array([value if value != "" else None for value in values], dtype=object)


def _column(array: Any, column: dict[str, Any]) -> Any:
    import pandas as pd

    if column["kind"] == "categorical":
        values = _text(array)
        categories = column.get("categories")
        if categories is not None:  # a pandas 'category' column: its training categories
            by_text = {str(category): category for category in categories}
            labelled = [None if value is None else by_text.get(value, value) for value in values]
            return pd.Series(pd.Categorical(labelled, categories=categories))
        return pd.Series(values, dtype=object)
    series = pd.Series(array.reshape(-1))
    try:  # the training dtype (int, bool) where the values allow it
        return series.astype(column["source_dtype"])
    except (TypeError, ValueError):
        return series


def model_input(columns: dict[str, Any], environment: dict[str, Any]) -> Any:
    """The DataFrame (or text Series) the original model takes, from per-column arrays."""
    import pandas as pd

    frame = pd.DataFrame(
        {
            column["name"]: _column(columns[column["tensor_name"]], column)
            for column in environment["columns"]
        }
    )
    if environment["text_series"]:
        return frame[environment["columns"][0]["name"]]
    return frame


def predict(model: Any, columns: dict[str, Any], environment: dict[str, Any]) -> dict[str, Any]:
    """The outputs (by name, one row per input row) for per-column input arrays."""
    import numpy as np

    inputs = model_input(columns, environment)
    results: dict[str, Any] = {}
    for output in environment["outputs"]:
        value = np.asarray(getattr(model, output["method"])(inputs))
        if output["datatype"] == "BYTES":
            value = value.astype(str).astype(object)
        elif output["datatype"] == "INT64":
            value = value.astype(np.int64)
        elif output["datatype"] == "BOOL":
            value = value.astype(bool)
        else:
            value = value.astype(np.float32)
        if output["method"] != "predict" and value.ndim == 1:
            value = value.reshape(-1, 1)  # a binary decision function: one score per row
        results[output["name"]] = value
    return results


class TritonPythonModel:
    """One instance per Triton model instance."""

    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        self.batching = int(config.get("max_batch_size", 0)) > 0
        self.input_names = [tensor["name"] for tensor in config["input"]]
        self.output_names = [tensor["name"] for tensor in config["output"]]
        self.model, self.environment = load_checked(os.path.dirname(os.path.abspath(__file__)))

    def execute(self, requests: list[Any]) -> list[Any]:
        import numpy as np
        import triton_python_backend_utils as pb_utils

        row_counts: list[int] = []
        parts: dict[str, list[Any]] = {name: [] for name in self.input_names}
        for request in requests:
            for name in self.input_names:
                parts[name].append(pb_utils.get_input_tensor_by_name(request, name).as_numpy())
            row_counts.append(parts[self.input_names[0]][-1].shape[0])
        try:
            results = predict(
                self.model,
                {name: np.concatenate(arrays) for name, arrays in parts.items()},
                self.environment,
            )
        except Exception as error:  # one bad request fails the whole merged batch
            message = " ".join(f"{type(error).__name__}: {error}".split())
            return [
                pb_utils.InferenceResponse(error=pb_utils.TritonError(message)) for _ in requests
            ]
        responses = []
        start = 0
        for count in row_counts:
            tensors = []
            for name in self.output_names:
                value = results[name][start : start + count]
                if self.batching and value.ndim == 1:
                    value = value.reshape(-1, 1)
                if value.dtype == object:
                    value = np.array(
                        [str(v).encode("utf-8") for v in value.reshape(-1)], dtype=object
                    ).reshape(value.shape)
                tensors.append(pb_utils.Tensor(name, value))
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            start += count
        return responses
