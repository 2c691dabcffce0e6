"""PyTorch networks: a TorchScript file, a pickled module, or a module given from Python.

The network is exported to ONNX with PyTorch's TorchScript-based exporter
(``torch.onnx.export(..., dynamo=False)``): it exports TorchScript modules, which the newer
torch.export-based exporter does not take, and needs no other library (the newer one needs
``onnxscript``). The export has one float ``[batch, k]`` input with a dynamic batch axis, so
it then takes the path of any such ONNX file (onnx_files.py): the sample's columns are
joined in front, in the sample's order, and ``classes`` add a label output. Parity compares
the packaged graph with the module's own outputs on the sample rows.

PyTorch is optional (its Linux wheel on PyPI pulls gigabytes of CUDA libraries); it is
imported only when a network is packaged. Loading a pickled module runs code from its file.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pandas as pd

from modelship_serving.errors import PackagingError, SampleError, UnsupportedModelError, one_line

# torch.jit.save and torch.save both write a zip archive with the pickled object in data.pkl.
TORCH_SUFFIXES = frozenset({".pt", ".pth", ".ts", ".torchscript"})
JOINED_INPUT = "modelship_features"
# onnxruntime 1.12 and later run opset 17 (the serving image's Triton 24.10 has a later one).
ONNX_OPSET = 17
_INSTALL = (
    "pip install torch (a CPU-only build: pip install torch --index-url"
    " https://download.pytorch.org/whl/cpu)"
)
_DTYPES: dict[str, type[np.floating[Any]]] = {
    "torch.float32": np.float32,
    "torch.float64": np.float64,
}


def is_torch_file(path: Path) -> bool:
    """Whether ``path`` is a file torch.jit.save or torch.save wrote (by suffix or content)."""
    if path.suffix.lower() in TORCH_SUFFIXES:
        return True
    try:
        if not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("/data.pkl") for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def is_torch_module(value: Any) -> bool:
    """Whether ``value`` is a torch.nn.Module (without importing PyTorch when it is absent)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.nn.Module)


def _import_torch(what: str) -> Any:
    try:
        import torch
    except ImportError as error:
        raise UnsupportedModelError(
            f"{what} needs PyTorch, which is not installed here: {_INSTALL}; or export the"
            " network yourself with torch.onnx.export(model, example, 'model.onnx',"
            " input_names=['input'], dynamic_axes={'input': {0: 'batch'}}) and package"
            " model.onnx"
        ) from error
    return torch


def load_torch_module(path: Path) -> Any:
    """The module in ``path``: a TorchScript file, else a pickled whole module (runs code)."""
    torch = _import_torch(f"packaging {path}, a PyTorch file,")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TorchScript's deprecation notice
            return torch.jit.load(str(path), map_location="cpu")
    except Exception as error:
        script_error = _first_sentence(error)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.load's notes on weights_only
            loaded = torch.load(str(path), map_location="cpu", weights_only=False)
    except (AttributeError, ModuleNotFoundError) as error:
        raise PackagingError(
            f"cannot unpickle the module in {path} ({one_line(error)}): its class must be"
            " importable here, so install the library it comes from, or move a class defined"
            " in the notebook into a module you can import, or save a TorchScript file:"
            " torch.jit.save(torch.jit.script(model), 'model.pt')"
        ) from error
    except Exception as error:
        raise UnsupportedModelError(
            f"{path} is neither a TorchScript file (torch.jit.load: {script_error}) nor a module"
            f" saved with torch.save (torch.load: {_first_sentence(error)}); save the"
            " network with torch.jit.save(torch.jit.script(model), 'model.pt') or"
            " torch.save(model, 'model.pt')"
        ) from error
    if not isinstance(loaded, torch.nn.Module):
        hint = " (a state_dict: weights without the network)" if isinstance(loaded, dict) else ""
        raise UnsupportedModelError(
            f"{path} holds a {type(loaded).__module__}.{type(loaded).__qualname__}{hint}, not a"
            " network; save the whole module: torch.save(model, 'model.pt') or"
            " torch.jit.save(torch.jit.script(model), 'model.pt')"
        )
    return loaded


def _first_sentence(error: BaseException) -> str:
    """The first sentence of a PyTorch error (its next ones are often paragraphs of advice)."""
    return one_line(error).split(". ")[0][:200]


def module_name(module: Any) -> str:
    """The network's class, with its module; TorchScript modules by their scripted class."""
    qualified = getattr(module, "original_name", None)
    if type(module).__module__.startswith("torch.jit") and qualified:
        return f"TorchScript {qualified}"
    return f"{type(module).__module__}.{type(module).__qualname__}"


class TorchReference:
    """The network as the parity check sees an original model: ``predict`` gives labels
    (the named class of each row's highest score) or the raw outputs, ``decision_function``
    the scores."""

    def __init__(self, module: Any, dtype: type[np.floating[Any]], labels: list[Any] | None):
        self.module = module
        self.dtype = dtype
        self.labels = labels

    def outputs(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        """The module's output for the rows of ``frame``, in its column order."""
        torch = _import_torch("running the network")
        features = torch.from_numpy(np.ascontiguousarray(frame.to_numpy(dtype=self.dtype)))
        with torch.no_grad():
            result = self.module(features)
        if not isinstance(result, torch.Tensor):
            raise UnsupportedModelError(
                f"the network returns a {type(result).__name__}, not one tensor; make forward"
                " return one [batch, k] tensor (the scores, or the predictions)"
            )
        return np.asarray(result.detach().cpu().numpy())

    def predict(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        scores = self.outputs(frame)
        if self.labels is None:
            return scores
        names = np.asarray(self.labels, dtype=object)
        labels: np.ndarray[Any, Any] = names[scores.argmax(axis=1)]
        return labels

    def decision_function(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        return self.outputs(frame)


def input_dtype(module: Any) -> type[np.floating[Any]]:
    """float64 for a network whose weights are double, else float32 (what nn.Linear has)."""
    for parameter in module.parameters():
        if str(parameter.device) != "cpu":
            raise UnsupportedModelError(
                f"the network's weights are on {parameter.device}; move it to the CPU for"
                " packaging: model.cpu()"
            )
        return _DTYPES.get(str(parameter.dtype), np.float32)
    return np.float32


def reference_outputs(reference: TorchReference, sample: pd.DataFrame) -> np.ndarray[Any, Any]:
    """The network's outputs on the sample, or a SampleError that says why it cannot run."""
    try:
        outputs = reference.outputs(sample)
    except UnsupportedModelError:
        raise
    except Exception as error:
        columns = ", ".join(str(name) for name in sample.columns)
        raise SampleError(
            f"the network fails on the sample's {len(sample.columns)} columns ({columns}):"
            f" {one_line(error)[:300]}; give a sample whose columns are exactly the network's"
            " input features, in the order it takes them"
        ) from error
    if outputs.dtype.kind == "f":
        # NaN answers match nothing in the parity check; they come from gaps in the sample.
        bad = np.flatnonzero(~np.isfinite(outputs.reshape(len(sample), -1)).all(axis=1))
        if len(bad):
            row = sample.iloc[bad[0]]
            gaps = [str(name) for name in sample.columns if pd.isna(row[name])]
            missing = f", missing {', '.join(gaps)}" if gaps else ""
            raise SampleError(
                f"the network gives NaN or infinite outputs for {len(bad)} of {len(sample)}"
                f" sample rows (first: row {sample.index[bad[0]]}{missing}); fill gaps as in"
                " training, or drop such rows from the sample"
            )
    return outputs


@contextlib.contextmanager
def _native_output_silenced() -> Iterator[None]:
    """Drop what native code prints meanwhile: on a failure the exporter prints its whole IR
    graph to stdout (its C++ log), which the one-line error replaces."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {descriptor: os.dup(descriptor) for descriptor in (1, 2)}
    try:
        with tempfile.TemporaryFile() as sink:
            for descriptor in saved:
                os.dup2(sink.fileno(), descriptor)
            try:
                yield
            finally:
                for descriptor, original in saved.items():
                    os.dup2(original, descriptor)
    finally:
        for original in saved.values():
            os.close(original)


def export_to_onnx(
    module: Any, example: pd.DataFrame, dtype: type[np.floating[Any]], output_name: str
) -> onnx.ModelProto:
    """The network as ONNX: one [batch, k] input ``JOINED_INPUT``, one output."""
    torch = _import_torch("exporting the network")
    features = torch.from_numpy(np.ascontiguousarray(example.to_numpy(dtype=dtype)))
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), _native_output_silenced():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
            torch.onnx.export(
                module,
                (features,),
                buffer,
                input_names=[JOINED_INPUT],
                output_names=[output_name],
                dynamic_axes={JOINED_INPUT: {0: "batch"}, output_name: {0: "batch"}},
                opset_version=ONNX_OPSET,
                dynamo=False,
            )
        model = onnx.load_from_string(buffer.getvalue())
        onnx.checker.check_model(model)
    except Exception as error:
        raise PackagingError(
            f"exporting the network to ONNX failed (torch.onnx.export, TorchScript exporter,"
            f" opset {ONNX_OPSET}: {one_line(error)[:300]}); make forward take one"
            " [batch, k] float tensor and return one tensor, replace the operator the message"
            " names, or export it yourself and package the .onnx file"
        ) from error
    if len(model.graph.output) != 1:
        raise UnsupportedModelError(
            f"the exported network has {len(model.graph.output)} outputs; make forward return"
            " one [batch, k] tensor (the scores, or the predictions)"
        )
    return model
