"""Which everyday models `modelship package` ships, and how (not a test).

Packages every model of tests/support/model_zoo.py, plus a few it refuses, and
prints a Markdown table: shipped in float32, shipped by the float64 retry, or refused
(with the first words of the one-line reason); the packaging time (conversion, parity
on the 300-row sample, writing; not the training); and the packaged graph's in-process
onnxruntime throughput on 64-row batches of held-out rows (a ceiling of what Triton can
serve, which adds RPC and batching costs measured in the Serving section).

    PYTHONPATH=tests .venv/bin/python hack/bench/families_bench.py

(tests/support holds the models; PYTHONPATH=tests makes it importable as `support`.)
"""

from __future__ import annotations

import importlib.util
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from modelship_serving.errors import PackagingError
from modelship_serving.packaging.package import package_model
from modelship_serving.packaging.parity import onnx_session
from modelship_serving.packaging.schema import frame_to_feeds
from support import model_zoo

ROOT = Path(__file__).resolve().parents[2]


def refused_cases(zoo: Any) -> list[tuple[str, Callable[[], Any]]]:
    """Everyday models modelship refuses today, each with its reason."""
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

    return [
        ("linear-svc", lambda: fitted(make_pipeline(StandardScaler(), LinearSVC()), churn)),
        ("label-spreading", lambda: fitted(LabelSpreading(), churn)),
        ("catboost-in-pipeline", catboost_in_pipeline),
        ("catboost-with-categorical-features", catboost_with_categories),
    ]


def measure(name: str, build: Callable[[], Any], work: Path) -> dict[str, Any]:
    fitted = build()
    directory = work / name
    directory.mkdir()
    joblib.dump(fitted.model, directory / "model.joblib")
    fitted.sample.to_parquet(directory / "sample.parquet")
    started = time.perf_counter()
    try:
        result = package_model(
            directory / "model.joblib", directory / "sample.parquet", "m", "1", directory / "r"
        )
    except PackagingError as error:
        seconds = time.perf_counter() - started
        reason = str(error).splitlines()[0]
        return {"name": name, "path": f"refused: {reason[:140]}", "seconds": seconds}
    seconds = time.perf_counter() - started
    metadata = result.metadata
    assert metadata.parity is not None
    session = onnx_session((result.model_dir / "1/model.onnx").read_bytes())
    rows = pd.concat([fitted.held_out] * 2, ignore_index=True).iloc[:64]
    feeds = frame_to_feeds(rows, metadata.input_schema)
    session.run(None, feeds)
    calls, run_started = 0, time.perf_counter()
    while time.perf_counter() - run_started < 0.5:
        session.run(None, feeds)
        calls += 1
    rows_per_second = calls * len(rows) / (time.perf_counter() - run_started)
    path = "float64 retry" if metadata.parity.precision == "float64" else "float32 (native)"
    return {"name": name, "path": path, "seconds": seconds, "rows_per_second": rows_per_second}


def main() -> None:
    zoo = model_zoo
    cases: list[tuple[str, Callable[[], Any], str | None]] = [
        (case.name, case.build, case.library) for case in zoo.ZOO
    ]
    cases += [(name, build, None) for name, build in refused_cases(zoo)]
    print("| model | shipped | packaging s | onnxruntime rows/s (64-row batches) |")
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


if __name__ == "__main__":
    main()
