"""Which everyday models `modelship package` ships, and how (not a test).

Packages every model of tests/support/model_zoo.py, a torch.onnx.export-style network
(tests/support/onnx_exports.py, with --classes), PyTorch networks (tests/support/
torch_networks.py: a TorchScript classifier with --classes, a pickled-module regressor; when
PyTorch is installed, see hack/install-torch.sh), plus a few it refuses, and prints a
Markdown table: shipped in float32, by the float64 retry, by the pinned pickle fallback,
or refused (with the first words of the one-line reason); the packaging time (conversion,
parity on the sample, writing; not the training); and the in-process throughput (best of
three 0.3 s windows) on 64-row batches of held-out rows, given as the per-column arrays
Triton hands a model, of what the package runs: the ONNX graph in onnxruntime, or the
fallback's model.py on the pickle (a ceiling of what Triton can serve, which adds RPC and
batching costs); then, for one model per path, the rows/s the real Triton serves over gRPC.

    PYTHONPATH=tests .venv/bin/python hack/bench/families_bench.py
    PYTHONPATH=tests .venv/bin/python hack/bench/families_bench.py --everyday

(--everyday: the same figures, without Triton, for tests/support/everyday_models.py.)

(tests/support holds the models; PYTHONPATH=tests makes it importable as `support`.)
"""

from __future__ import annotations

import gc
import importlib.util
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from modelship_serving.errors import PackagingError
from modelship_serving.packaging.fallback import served_runner
from modelship_serving.packaging.package import package_model
from modelship_serving.packaging.parity import onnx_session
from modelship_serving.packaging.schema import frame_to_feeds
from support import model_zoo

ROOT = Path(__file__).resolve().parents[2]


def clipped_log(values: Any) -> Any:
    """A transform defined in this script (module __main__): what a notebook cell gives."""
    import numpy as np

    return np.log1p(np.clip(values, 0, None))


def extra_cases(zoo: Any) -> list[tuple[str, Callable[[], Any]]]:
    """Models no converter carries (the fallback ships or refuses them)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.semi_supervised import LabelSpreading
    from sklearn.svm import LinearSVC

    def fitted(model: Any, target: Callable[[pd.DataFrame], Any]) -> Any:
        columns = ["age", "income", "visits"]
        train = zoo.customers(300, 3)[columns].fillna(50_000.0)
        held_out = zoo.customers(60, 4)[columns].fillna(50_000.0)
        return zoo.Fitted(model.fit(train, target(train)), train, held_out)

    def churn(frame: pd.DataFrame) -> Any:
        return frame["age"] > 50

    def catboost_in_pipeline() -> Any:
        from catboost import CatBoostClassifier

        classifier = CatBoostClassifier(iterations=20, verbose=0, allow_writing_files=False)
        return fitted(make_pipeline(StandardScaler(), classifier), churn)

    def catboost_with_categories() -> Any:
        from catboost import CatBoostClassifier

        frame = zoo.customers(300, 5)[["age", "city"]]
        model = CatBoostClassifier(iterations=20, verbose=0, allow_writing_files=False)
        model.fit(frame, frame["age"] > 40, cat_features=["city"])
        return zoo.Fitted(model, frame, frame)

    def notebook_transform() -> Any:
        from sklearn.linear_model import Ridge
        from sklearn.preprocessing import FunctionTransformer

        return fitted(make_pipeline(FunctionTransformer(clipped_log), Ridge()), churn)

    return [
        ("linear-svc", lambda: fitted(make_pipeline(StandardScaler(), LinearSVC()), churn)),
        ("label-spreading-bare", lambda: fitted(LabelSpreading(), churn)),
        ("transform-defined-in-the-notebook", notebook_transform),
        ("catboost-in-pipeline", catboost_in_pipeline),
        ("catboost-with-categorical-features", catboost_with_categories),
    ]


def torch_export(directory: Path) -> tuple[Path, Path, pd.DataFrame, list[str] | None]:
    """The torch.onnx.export-style MLP and its sample, written into ``directory``."""
    import onnx
    from support import onnx_exports

    onnx.save(onnx_exports.torch_style_mlp(onnx_exports.mlp_weights()), str(directory / "m.onnx"))
    onnx_exports.sample(200, 1).to_parquet(directory / "sample.parquet")
    return (
        directory / "m.onnx",
        directory / "sample.parquet",
        onnx_exports.sample(60, 2),
        (onnx_exports.CLASSES),
    )


# PyTorch networks (support.torch_networks): which network, saved how.
TORCH_NETWORKS = {
    "torch-mlp-classifier-torchscript": ("classifier", "torchscript"),
    "torch-mlp-regressor-pickled-module": ("regressor", "pickled"),
}


def torch_network(name: str, directory: Path) -> tuple[Path, Path, pd.DataFrame, list[str] | None]:
    """A trained PyTorch network saved as TORCH_NETWORKS says, and its sample."""
    from support import torch_networks

    kind, save_as = TORCH_NETWORKS[name]
    network = torch_networks.classifier() if kind == "classifier" else torch_networks.regressor()
    model_path = torch_networks.save(network.module, directory / "net.pt", save_as)
    network.sample.to_parquet(directory / "sample.parquet")
    return model_path, directory / "sample.parquet", network.held_out, network.classes


def served_answers(result: Any) -> Callable[[dict[str, Any]], Any]:
    """What the package runs per batch on Triton's arrays: its ONNX graph in onnxruntime, or
    the fallback's model.py on the pickle."""
    metadata = result.metadata
    if metadata.source_format == "pickle":
        return served_runner(result.model_dir / metadata.version)
    session = onnx_session((result.model_dir / "1/model.onnx").read_bytes())
    return lambda feeds: session.run(None, feeds)


def written_inputs(
    name: str, build: Callable[[], Any] | None, directory: Path
) -> tuple[Path, Path, pd.DataFrame, list[str] | None]:
    """Model file, sample, held-out rows and --classes of a case (None: the torch export or
    a PyTorch network)."""
    directory.mkdir()
    if name in TORCH_NETWORKS:
        return torch_network(name, directory)
    if build is None:
        return torch_export(directory)
    fitted = build()
    fitted.write(directory / "model.joblib", directory / "sample.parquet")
    return directory / "model.joblib", directory / "sample.parquet", fitted.held_out, None


def rate(answer: Callable[[Any], Any], feeds: Any, rows: int) -> float:
    """Rows/s of ``answer`` on ``feeds`` over 0.3 s."""
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < 0.3:
        answer(feeds)
        calls += 1
    return calls * rows / (time.perf_counter() - started)


def measure(name: str, build: Callable[[], Any] | None, work: Path) -> dict[str, Any]:
    directory = work / name
    model_path, sample_path, held_out, classes = written_inputs(name, build, directory)
    started = time.perf_counter()
    try:
        result = package_model(model_path, sample_path, "m", "1", directory / "r", classes=classes)
    except PackagingError as error:
        seconds = time.perf_counter() - started
        return {"name": name, "path": f"refused: {str(error)[:140]}", "seconds": seconds}
    seconds = time.perf_counter() - started
    metadata = result.metadata
    answer = served_answers(result)
    rows = pd.concat([held_out] * 2, ignore_index=True).iloc[:64]
    feeds = frame_to_feeds(rows, metadata.input_schema)
    answer(feeds)
    # What earlier cases left in this process (a large heap) must not be rescanned by every
    # garbage collection the fallback's DataFrames trigger: a served model has its own process.
    gc.collect()
    gc.freeze()
    rows_per_second = max(rate(answer, feeds, len(rows)) for _ in range(3))  # best of 3
    gc.unfreeze()
    if metadata.source_format == "pickle":
        path = "fallback (pinned pickle, python backend)"
    elif metadata.source_format == "onnx":
        path = "ONNX file ([N, k] input, --classes)"
    elif metadata.source_format == "torch":
        path = "PyTorch network (ONNX export)"
    elif metadata.parity is not None and metadata.parity.precision == "float64":
        path = "float64 retry"
    else:
        path = "float32 (native)"
    return {"name": name, "path": path, "seconds": seconds, "rows_per_second": rows_per_second}


# One model per path, served by the real Triton for the second table.
SERVED_PER_PATH = {
    "logistic-regression-mixed": "float32 (native)",
    "random-forest-after-scaler-timestamps": "float64 retry",
    "torch-export-mlp": "ONNX file ([N, k] input, --classes)",
    "torch-mlp-classifier-torchscript": "PyTorch network (ONNX export)",
    "label-spreading": "fallback (pinned pickle)",
    "log-transform-then-ridge": "fallback (pinned pickle)",
}


def triton_throughput(zoo: Any, work: Path) -> None:
    """Rows/s the real Triton serves over gRPC for one model per path (64-row requests, 4 in
    flight, 3,840 held-out rows per pass, best of 3 passes)."""
    from modelship_serving.scoring.scorers import TritonScorer
    from modelship_serving.triton.server import TritonServer, TritonServerSettings

    repository = work / "served"
    cases = {case.name: case.build for case in zoo.ZOO}
    packaged: dict[str, tuple[Any, pd.DataFrame]] = {}
    for name in SERVED_PER_PATH:
        if name in TORCH_NETWORKS and importlib.util.find_spec("torch") is None:
            continue
        model_path, sample_path, held_out, classes = written_inputs(
            name, cases.get(name), work / f"triton-{name}"
        )
        result = package_model(model_path, sample_path, name, "1", repository, classes=classes)
        packaged[name] = (result.metadata, held_out)
    print()
    print("| model | path | Triton rows/s (gRPC, 64-row requests, 4 in flight) |")
    print("| --- | --- | --- |")
    with TritonServer(TritonServerSettings(repository=repository)) as server:
        assert server.endpoints is not None
        for name, (metadata, held_out) in packaged.items():
            frame = pd.concat([held_out] * (3840 // len(held_out) + 1), ignore_index=True)
            frame = frame.iloc[:3840]
            scorer = TritonScorer(server.endpoints.grpc, metadata, 64, 4)
            scorer.score(frame.iloc[:256])
            best = 0.0
            for _ in range(3):
                started = time.perf_counter()
                scorer.score(frame)
                best = max(best, len(frame) / (time.perf_counter() - started))
            scorer.close()
            print(f"| {name} | {SERVED_PER_PATH[name]} | {best:,.0f} |")


def main() -> None:
    zoo = model_zoo
    everyday = "--everyday" in sys.argv[1:]
    cases: list[tuple[str, Callable[[], Any] | None, str | None]] = [
        (case.name, case.build, case.library) for case in zoo.ZOO
    ]
    cases.append(("torch-export-mlp", None, None))
    cases += [(name, None, "torch") for name in TORCH_NETWORKS]
    cases += [(name, build, None) for name, build in extra_cases(zoo)]
    if everyday:
        from support import everyday_models

        cases = [(case.name, case.build, None) for case in everyday_models.CASES]
    print("| model | shipped | packaging s | in-process rows/s (64-row batches) |")
    print("| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as work:
        for name, build, library in cases:
            if library is not None and importlib.util.find_spec(library) is None:
                print(f"| {name} | not measured: {library} not installed | | |")
                continue
            figures = measure(name, build, Path(work))
            throughput = figures.get("rows_per_second")
            shown = f"{throughput:,.0f}" if throughput else ""
            print(f"| {name} | {figures['path']} | {figures['seconds']:.2f} | {shown} |")
        if not everyday:
            triton_throughput(zoo, Path(work))


if __name__ == "__main__":
    main()
