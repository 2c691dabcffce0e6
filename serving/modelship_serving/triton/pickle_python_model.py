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

Where Triton's own interpreter lacks the recorded versions (the stock serving image: Triton
24.10's Python 3.10 has numpy only), the model runs in a worker process of an interpreter that
has them: `MODELSHIP_FALLBACK_PYTHON`, else `/opt/modelship/bin/python` when it exists. The
worker is this file (`python model.py --worker DIR`); it checks the versions itself (the same
one-line refusal) and answers one batch at a time over its stdin/stdout (length-prefixed
pickles of arrays), so the stub side needs only the standard library and numpy.
`MODELSHIP_FALLBACK_WORKER=always` forces the worker, `never` forbids it.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import pickle
import platform
import struct
import subprocess
import sys
import threading
from typing import IO, Any

ENVIRONMENT_FILE = "environment.json"
MODEL_FILE = "model.pkl"
WORKER_PYTHON_ENV = "MODELSHIP_FALLBACK_PYTHON"
WORKER_MODE_ENV = "MODELSHIP_FALLBACK_WORKER"
DEFAULT_WORKER_PYTHON = "/opt/modelship/bin/python"
_FRAME_HEADER = struct.Struct(">Q")


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


def _text(array: Any, gap: str = "none") -> Any:
    """The texts of a string tensor. "" is how a gap travels in one (as for converted models):
    back to the gap the model was fitted on (``gap``, recorded from the sample: "none" for
    None, "nan" for NaN, which scikit-learn's imputers take as missing), or kept as a text
    ("text": the sample's empty texts, a text model's empty documents)."""
    import numpy as np

    values = [
        value.decode("utf-8") if isinstance(value, bytes) else str(value)
        for value in array.reshape(-1)
    ]
    if gap == "text":
        return np.array(values, dtype=object)
    missing = float("nan") if gap == "nan" else None
    return np.array([value if value != "" else missing for value in values], dtype=object)


def _column(array: Any, column: dict[str, Any]) -> Any:
    import pandas as pd

    if column["kind"] == "categorical":
        values = _text(array, column.get("gap", "none"))
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


def _write_frame(stream: IO[bytes], value: Any) -> None:
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_FRAME_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _read_frame(stream: IO[bytes]) -> Any:
    """The next value, or EOFError when the other side is gone."""
    header = stream.read(_FRAME_HEADER.size)
    if len(header) < _FRAME_HEADER.size:
        raise EOFError("stream closed")
    (size,) = _FRAME_HEADER.unpack(header)
    payload = stream.read(size)
    if len(payload) < size:
        raise EOFError("stream closed mid-frame")
    return pickle.loads(payload)  # our own worker's answers, over a private pipe


def _one_line(error: BaseException) -> str:
    return " ".join(f"{type(error).__name__}: {error}".split())


def worker_main(directory: str) -> int:
    """`python model.py --worker DIR`: load and check the model in this interpreter, say
    ("ready", None) or ("refused", message), then answer ("ok", outputs) or ("error",
    message) for each batch of columns until stdin closes."""
    # The protocol owns the real stdout; whatever the model prints goes to stderr (the log).
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    requests = sys.stdin.buffer
    try:
        model, environment = load_checked(directory)
    except Exception as error:  # a refusal, or a pickle that does not load here
        _write_frame(channel, ("refused", str(error) if isinstance(error, RuntimeError)
                               else _one_line(error)))  # fmt: skip
        return 1
    _write_frame(channel, ("ready", None))
    while True:
        try:
            columns = _read_frame(requests)
        except EOFError:
            return 0
        try:
            _write_frame(channel, ("ok", predict(model, columns, environment)))
        except Exception as error:  # the model's own code: anything at all
            _write_frame(channel, ("error", _one_line(error)))


class WorkerDiedError(RuntimeError):
    """The worker process exited (or closed its pipes) before answering."""


class PickleWorker:
    """The model in a worker process of ``python``: one request at a time, restarted once
    when it dies during a request."""

    def __init__(self, python: str, directory: str) -> None:
        self.python = python
        self.directory = directory
        self.lock = threading.Lock()
        self.process: subprocess.Popen[bytes] | None = None
        self._start()

    def _start(self) -> None:
        command = [self.python, os.path.abspath(__file__), "--worker", self.directory]
        try:
            self.process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )  # fmt: skip
        except OSError as error:
            raise RuntimeError(
                f"the fallback worker interpreter {self.python} cannot start ({_one_line(error)});"
                f" set {WORKER_PYTHON_ENV} to a python that has the versions in {ENVIRONMENT_FILE}"
            ) from error
        status, message = self._receive()
        if status == "refused":
            self.close()
            raise RuntimeError(f"{message} (fallback worker {self.python})")

    def _receive(self) -> tuple[str, Any]:
        assert self.process is not None
        assert self.process.stdout is not None
        try:
            answer: tuple[str, Any] = _read_frame(self.process.stdout)
            return answer
        except EOFError:
            code = self.process.wait()
            raise WorkerDiedError(
                f"the fallback worker ({self.python} {os.path.basename(__file__)} --worker)"
                f" exited with code {code} before answering; its stderr is in Triton's log"
            ) from None

    def _ask(self, columns: dict[str, Any]) -> dict[str, Any]:
        assert self.process is not None
        assert self.process.stdin is not None
        with contextlib.suppress(OSError):  # it is gone: _receive says how it ended
            _write_frame(self.process.stdin, columns)
        status, value = self._receive()
        if status != "ok":
            raise RuntimeError(value)
        answers: dict[str, Any] = value
        return answers

    def predict(self, columns: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            try:
                return self._ask(columns)
            except WorkerDiedError:
                self.close()
                self._start()  # once; if it dies again the request fails with why
                try:
                    return self._ask(columns)
                except WorkerDiedError as again:
                    self.close()
                    raise WorkerDiedError(f"{again} (after one restart)") from None

    def close(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):  # a dead worker's unflushed request
                    stream.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def worker_python() -> str | None:
    """The interpreter a worker runs in: the env's choice, else the serving image's venv."""
    chosen = os.environ.get(WORKER_PYTHON_ENV)
    if chosen:
        return chosen
    return DEFAULT_WORKER_PYTHON if os.path.exists(DEFAULT_WORKER_PYTHON) else None


class Runner:
    """The model in this interpreter when it has the recorded versions, else in a worker."""

    def __init__(self, directory: str) -> None:
        self.worker: PickleWorker | None = None
        self.environment = read_environment(directory)
        mode = os.environ.get(WORKER_MODE_ENV, "auto")
        python = worker_python()
        if mode == "always" or (
            mode != "never" and python is not None and environment_mismatches(self.environment)
        ):
            if python is None:
                raise RuntimeError(
                    f"{WORKER_MODE_ENV}=always but no worker interpreter: set {WORKER_PYTHON_ENV}"
                )
            self.worker = PickleWorker(python, directory)
        else:
            try:
                self.model, self.environment = load_checked(directory)
            except RuntimeError as error:
                if mode == "never" or python is not None:
                    raise
                raise RuntimeError(
                    f"{error}, or set {WORKER_PYTHON_ENV} to a python that has them"
                ) from None

    def predict(self, columns: dict[str, Any]) -> dict[str, Any]:
        if self.worker is not None:
            return self.worker.predict(columns)
        return predict(self.model, columns, self.environment)

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()


class TritonPythonModel:
    """One instance per Triton model instance."""

    def initialize(self, args: dict[str, str]) -> None:
        config = json.loads(args["model_config"])
        self.batching = int(config.get("max_batch_size", 0)) > 0
        self.input_names = [tensor["name"] for tensor in config["input"]]
        self.output_names = [tensor["name"] for tensor in config["output"]]
        self.runner = Runner(os.path.dirname(os.path.abspath(__file__)))

    def finalize(self) -> None:
        self.runner.close()

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
            results = self.runner.predict(
                {name: np.concatenate(arrays) for name, arrays in parts.items()}
            )
        except Exception as error:  # one bad request fails the whole merged batch
            message = _one_line(error)
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


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    sys.exit(worker_main(sys.argv[2]))
