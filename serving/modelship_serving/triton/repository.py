"""Making a packaged repository servable by the local Triton build.

A model packaged with default options names Triton's onnxruntime backend.
Where the local build lacks it (the CPU build in the nvidia-pytriton wheel
has only the python backend), each such model is served through the
python-backend runner instead, from a scratch repository that links to the
original files: the packaged repository itself is never changed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from modelship_serving.errors import ServeError

CONFIG_FILENAME = "config.pbtxt"
ONNXRUNTIME_PLATFORM = "onnxruntime_onnx"
ONNXRUNTIME_BACKEND = "onnxruntime"


def python_runner_source() -> Path:
    """The python-backend model that runs model.onnx with onnxruntime."""
    return Path(__file__).resolve().parent / "onnx_python_model.py"


def model_directories(repository: Path) -> list[Path]:
    """The model directories of a repository (those with a config.pbtxt)."""
    if not repository.is_dir():
        raise ServeError(f"model repository {repository} does not exist or is not a directory")
    models = sorted(
        entry
        for entry in repository.iterdir()
        if entry.is_dir() and not entry.name.startswith(".") and (entry / CONFIG_FILENAME).is_file()
    )
    if not models:
        raise ServeError(
            f"{repository} holds no model (no <name>/config.pbtxt); give the directory that"
            " `modelship package --output` wrote"
        )
    return models


def _needs_onnxruntime(config_text: str) -> bool:
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    config = text_format.Parse(config_text, model_config_pb2.ModelConfig())
    return bool(config.platform == ONNXRUNTIME_PLATFORM or config.backend == ONNXRUNTIME_BACKEND)


def as_python_backend_config(config_text: str) -> str:
    """The same model config served by the python-backend ONNX runner."""
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    config = text_format.Parse(config_text, model_config_pb2.ModelConfig())
    config.ClearField("platform")
    config.ClearField("default_model_filename")
    config.backend = "python"
    # The runner gives [batch, 1] for a [batch] label itself.
    for output in config.output:
        output.ClearField("reshape")
    return str(text_format.MessageToString(config))


def servable_repository(repository: Path, backends: frozenset[str], scratch: Path) -> Path:
    """``repository`` itself if the local build can serve it, else a scratch copy that can."""
    models = model_directories(repository)
    to_wrap = {
        model
        for model in models
        if ONNXRUNTIME_BACKEND not in backends
        and _needs_onnxruntime((model / CONFIG_FILENAME).read_text(encoding="utf-8"))
    }
    if not to_wrap:
        return repository
    if "python" not in backends:
        raise ServeError(
            "this Triton build has neither the onnxruntime nor the python backend; use a"
            " Triton image with the onnxruntime backend"
        )
    target = scratch / "repository"
    target.mkdir(parents=True)
    for model in models:
        if model not in to_wrap:
            (target / model.name).symlink_to(model.resolve(), target_is_directory=True)
            continue
        wrapped = target / model.name
        wrapped.mkdir()
        config_text = (model / CONFIG_FILENAME).read_text(encoding="utf-8")
        (wrapped / CONFIG_FILENAME).write_text(as_python_backend_config(config_text))
        for version_dir in model.iterdir():
            if not (version_dir.is_dir() and version_dir.name.isdigit()):
                continue
            onnx_file = version_dir / "model.onnx"
            if not onnx_file.is_file():
                raise ServeError(f"{version_dir} has no model.onnx to serve")
            (wrapped / version_dir.name).mkdir()
            os.symlink(onnx_file.resolve(), wrapped / version_dir.name / "model.onnx")
            shutil.copyfile(python_runner_source(), wrapped / version_dir.name / "model.py")
    return target
