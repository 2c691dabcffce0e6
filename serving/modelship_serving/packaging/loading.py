"""Reading the user's model file and sample data, with clear messages when they are unusable.

Loading a pickle or joblib file runs code from that file: only load files you trust.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
import pandas as pd

from modelship_serving.columns import csv_header, header_problem
from modelship_serving.errors import PackagingError, SampleError, UnsupportedModelError
from modelship_serving.packaging.boosting import is_catboost, missing_library_message
from modelship_serving.packaging.pytorch import is_torch_file, is_torch_module, load_torch_module

ONNX_SUFFIXES = frozenset({".onnx"})
CSV_SUFFIXES = frozenset({".csv", ".tsv"})
PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})


@dataclass(frozen=True)
class LoadedModel:
    """One of: a fitted scikit-learn estimator, an ONNX graph, a PyTorch network."""

    sklearn_model: Any | None
    onnx_model: onnx.ModelProto | None
    torch_module: Any | None = None


def load_model(path: Path) -> LoadedModel:
    """Load a pickled/joblib scikit-learn estimator (runs code from the file), an ONNX file,
    or a PyTorch network (a TorchScript file, or a pickled module: runs code too)."""
    if not path.is_file():
        raise PackagingError(f"model file {path} does not exist or is not a file")
    if is_torch_file(path):
        return LoadedModel(
            sklearn_model=None, onnx_model=None, torch_module=load_torch_module(path)
        )
    if path.suffix.lower() in ONNX_SUFFIXES:
        try:
            model = onnx.load(str(path))
            onnx.checker.check_model(model)
        except Exception as error:
            raise PackagingError(f"{path} is not a valid ONNX model: {error}") from error
        return LoadedModel(sklearn_model=None, onnx_model=model)
    try:
        import joblib

        estimator = joblib.load(path)
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError, IndexError) as error:
        raise PackagingError(
            f"cannot read {path} as a pickle or joblib file ({type(error).__name__}: {error});"
            " give a file written by joblib.dump or pickle.dump, or an .onnx file"
        ) from error
    except ModuleNotFoundError as error:
        library = (error.name or "").split(".")[0]
        if library in ("xgboost", "lightgbm", "catboost"):
            raise UnsupportedModelError(missing_library_message(library)) from error
        if library == "torch":
            load_torch_module(path)  # says what to install
        raise PackagingError(
            f"cannot unpickle {path}: {error}; install the libraries (and the versions) the"
            " model was trained with"
        ) from error
    except AttributeError as error:
        raise PackagingError(
            f"cannot unpickle {path}: {error}; install the libraries (and the versions) the"
            " model was trained with"
        ) from error
    except Exception as error:  # the pickle's own code raised: anything at all
        raise PackagingError(
            f"cannot load {path}: unpickling it raised {type(error).__name__}: {error}; give"
            " a file written by joblib.dump or pickle.dump of a fitted estimator, in an"
            " environment like the one it was trained in, or an .onnx file"
        ) from error
    from sklearn.base import BaseEstimator

    if is_torch_module(estimator):  # pickle.dump of a network
        return LoadedModel(sklearn_model=None, onnx_model=None, torch_module=estimator)
    if not isinstance(estimator, BaseEstimator) and not is_catboost(estimator):
        raise UnsupportedModelError(
            f"{path} holds a {type(estimator).__module__}.{type(estimator).__name__}, not a"
            " scikit-learn estimator or Pipeline (XGBoost, LightGBM and CatBoost through their"
            " scikit-learn classes such as XGBClassifier) nor a torch.nn.Module; export it to"
            " ONNX yourself and package the .onnx file"
        )
    return LoadedModel(sklearn_model=estimator, onnx_model=None)


def load_sample(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet sample of the training input."""
    if not path.is_file():
        raise SampleError(f"sample file {path} does not exist or is not a file")
    if path.stat().st_size == 0:  # else pandas' "No columns to parse from file"
        raise SampleError(
            f"sample {path} is an empty file (0 bytes); give a few hundred rows of training input"
        )
    suffix = path.suffix.lower()
    try:
        if suffix in CSV_SUFFIXES:
            separator = "\t" if suffix == ".tsv" else ","
            _check_names(path, csv_header(path, separator), separator)
            frame = pd.read_csv(path, sep=separator)
        elif suffix in PARQUET_SUFFIXES:
            import pyarrow.parquet as pq

            _check_names(path, pq.ParquetFile(path).schema_arrow.names)
            frame = pd.read_parquet(path)
        else:
            raise SampleError(
                f"sample {path} has suffix {suffix!r}; give a .csv, .tsv or .parquet file"
            )
    except SampleError:
        raise
    except Exception as error:
        raise SampleError(f"cannot read sample {path}: {error}") from error
    if frame.empty:
        raise SampleError(f"sample {path} has no rows; give a few hundred rows of training input")
    return frame


def _check_names(path: Path, names: list[str], separator: str | None = None) -> None:
    problem = header_problem(names, separator)
    if problem is not None:
        raise SampleError(f"sample {path}: {problem}")
