"""A packaged churn classifier served by the real Triton with input tracing on, as the
serving pod runs it with spec.monitoring.drift, and traffic drawn like its training rows."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import joblib
import pandas as pd
from modelship.builders.live_drift import triton_trace_args
from modelship_serving.metadata import ModelMetadata
from modelship_serving.packaging.package import package_model
from modelship_serving.triton.server import TritonServer, TritonServerSettings

from support.sklearn_models import churn_classifier, mixed_frame
from support.triton_backed import TritonBacked

TRAINING_ROWS = 400
INCOME_STD = 12_000.0  # mixed_frame draws income from N(50000, 12000)


@dataclass(frozen=True)
class TracedTriton(TritonBacked):
    """A running Triton that traces inputs into ``trace_file``.N."""

    metadata: ModelMetadata
    repository: Path
    trace_file: Path


def package_churn(work: Path) -> tuple[Path, ModelMetadata]:
    """The churn classifier packaged into ``work``/repository; its reference is the
    training sample."""
    train = mixed_frame(TRAINING_ROWS, 1)
    joblib.dump(churn_classifier(train), work / "churn.joblib")
    train.to_csv(work / "churn.csv", index=False)
    repository = work / "repository"
    result = package_model(work / "churn.joblib", work / "churn.csv", "churn", "1", repository)
    return repository, result.metadata


@contextmanager
def traced_triton(
    work: Path, sample_every: int = 1, log_frequency: int = 5, extra_args: tuple[str, ...] = ()
) -> Iterator[TracedTriton]:
    """Triton on the packaged churn model with the serving pod's trace flags."""
    repository, metadata = package_churn(work)
    traces = work / "traces"
    traces.mkdir()
    trace_file = traces / "trace.json"
    args = triton_trace_args(sample_every, str(trace_file), log_frequency, budget=1_000_000)
    with TritonServer(
        TritonServerSettings(repository=repository, extra_args=[*args, *extra_args])
    ) as server:
        yield TracedTriton(server, metadata, repository, trace_file)


def traffic(rows: int, seed: int, income_shift_in_std: float = 0.0) -> pd.DataFrame:
    """Rows drawn like the training rows, income moved by that many standard deviations."""
    frame = mixed_frame(rows, seed)
    frame["income"] = frame["income"] + income_shift_in_std * INCOME_STD
    return frame


def wait_for(condition: object, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``condition()`` until true; AssertionError after ``timeout`` seconds."""
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


@contextmanager
def drift_watch_process(
    repository: Path, model: str, metrics_port: int, *source: str, quiet: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    """The real `modelship drift-watch` on this machine, its metrics on
    127.0.0.1:``metrics_port``; ``source``: its trace or mirror options and any others.
    Terminated on leaving."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from modelship.cli import main; main()",
            "drift-watch",
            "--model-repo",
            str(repository),
            "--model",
            model,
            "--metrics-address",
            "127.0.0.1",
            "--metrics-port",
            str(metrics_port),
            *source,
        ],
        stderr=subprocess.DEVNULL if quiet else None,
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)
