"""Benchmark of `modelship score` against the script a data scientist would write (not a test).

On the scoring benchmark's table and model (hack/bench/scoring_bench.py, default
1,000,000 rows), runs side by side, as whole processes and in alternation (paired
rounds, so a busy moment of the machine hits both), each in its own child process whose
peak resident memory is its own:

- the naive script: pandas reads the whole table, the fitted scikit-learn pipeline's
  ``predict_proba``, pandas writes Parquet (the id, the label and both probabilities);
- ``modelship score`` of this checkout (onnxruntime in-process, default chunks);
- with ``--before REV``: ``modelship score`` of that git revision of serving/ and
  operator/ (exported to a temporary folder), for a before/after in the same run;
- once each: the bare onnxruntime ceiling (the whole table in memory, ``session.run``
  only), and the start-up of ``modelship score`` (the whole command on a 100-row table);
- once per tree, in one process with the table already in memory: bare ``session.run``
  on the whole table's tensors against modelship's scorer path (conversion, the same
  session, output shaping) on the same table in chunks (see IN_MEMORY).

Prints medians of the rounds and the ratios the issue asks for.

    .venv/bin/python hack/bench/scoring_speed_bench.py --rounds 5 --before e10e637
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

from scoring_bench import (
    CEILING,
    bench_parser,
    make_table,
    packaged_bench,
    rescore_command,
    run_child,
)

NAIVE = textwrap.dedent(
    """
    import sys
    import joblib
    import pandas as pd
    model = joblib.load(sys.argv[1])
    frame = pd.read_parquet(sys.argv[2])
    scores = model.predict_proba(frame[model.feature_names_in_])
    out = pd.DataFrame({"id": frame["id"], "label": model.classes_[scores.argmax(axis=1)]})
    for index, label in enumerate(model.classes_):
        out[f"probabilities_{label}"] = scores[:, index]
    out.to_parquet(sys.argv[3], index=False)
    """
)

# In one process, the table already in memory: bare onnxruntime (``session.run`` on the whole
# table's tensors, converted beforehand; and on the same tensors in slices of a chunk's rows)
# against modelship's scorer path on the same table
# as `modelship score` reads it (per chunk: conversion to tensors, the same session's run,
# and shaping the output rows into the Arrow table that is written). Reading, drift
# counting and writing are left out of both; three alternating repetitions, medians.
IN_MEMORY = textwrap.dedent(
    """
    import statistics, sys, time
    from pathlib import Path
    import pandas as pd
    from modelship_serving.packaging.schema import frame_to_feeds
    from modelship_serving.scoring.checks import load_model, read_input
    from modelship_serving.scoring.job import numbered
    from modelship_serving.scoring.output import prediction_table
    from modelship_serving.scoring.scorers import InProcessScorer
    repo, table, rows_per_chunk = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    metadata, model_file = load_model(repo, "bench")
    scorer = InProcessScorer(model_file, metadata)
    chunks = list(numbered(read_input(table, rows_per_chunk, metadata, "id")))
    try:
        from modelship_serving.scoring.chunk import Chunk  # chunks of Arrow columns

        def shaped(outputs, chunk):
            return prediction_table(outputs, metadata, chunk.row_numbers, chunk.column("id"), "id")
    except ImportError:  # a revision whose chunks are pandas DataFrames
        from modelship_serving.scoring.output import prediction_frame

        def shaped(outputs, chunk):
            rows = chunk.index.to_numpy()
            return prediction_table(prediction_frame(outputs, metadata, rows, chunk["id"], "id"))
    feeds = frame_to_feeds(pd.read_parquet(table), metadata.input_schema)
    chunk_feeds = [
        {name: tensor[start : start + rows_per_chunk] for name, tensor in feeds.items()}
        for start in range(0, len(next(iter(feeds.values()))), rows_per_chunk)
    ]

    def bare():
        scorer.session.run(scorer.output_names, feeds)

    def bare_in_chunks():
        for tensors in chunk_feeds:
            scorer.session.run(scorer.output_names, tensors)

    def modelship():
        for chunk in chunks:
            shaped(scorer.score(chunk), chunk)

    times = {bare: [], bare_in_chunks: [], modelship: []}
    for _ in range(3):
        for run in times:
            started = time.perf_counter()
            run()
            times[run].append(time.perf_counter() - started)
    print(*(statistics.median(seconds) for seconds in times.values()))
    """
)

REPOSITORY = Path(__file__).resolve().parents[2]


def export_revision(revision: str, into: Path) -> Path:
    """serving/ and operator/ of ``revision``, as files under ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(REPOSITORY), "archive", revision, "serving", "operator"],
        capture_output=True,
        check=True,
    ).stdout
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def measured(command: list[str]) -> tuple[float, float, float]:
    """(seconds, peak RSS MiB, CPU seconds: user + system) of one child process. The CPU
    time, which other work on the machine changes little, includes the few hundredths of
    a second of run_child's measuring wrapper."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds, memory, _ = run_child(command)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return seconds, memory, cpu


def compile_tree(tree: Path) -> None:
    """Bytecode for ``tree``'s serving/ and operator/, as an installed package has it (pip
    compiles on install): with PYTHONDONTWRITEBYTECODE set, as on this machine, a checkout
    would otherwise be compiled anew by every process measured."""
    folders = [str(tree / "serving"), str(tree / "operator")]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *folders], check=True, capture_output=True
    )


def with_path(command: list[str], tree: Path) -> list[str]:
    """``command`` run with ``tree``'s serving/ and operator/ first on the import path."""
    path = f"{tree / 'operator'}{os.pathsep}{tree / 'serving'}"
    return ["env", f"PYTHONPATH={path}", *command]


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before", help="a git revision to measure too, e.g. e10e637")
    arguments = parser.parse_args()
    with packaged_bench("scoring-speed-") as work:
        table = work / "input.parquet"
        make_table(arguments.rows, 2).to_parquet(table, index=False)
        make_table(100, 3).to_parquet(work / "small.parquet", index=False)
        trees = {"after": REPOSITORY}
        if arguments.before:
            trees["before"] = export_revision(arguments.before, work / "before")
        for tree in trees.values():
            compile_tree(tree)

        def score(tree: Path, source: Path, output: Path) -> list[str]:
            return with_path(rescore_command(work, source, output), tree)

        runs: dict[str, list[tuple[float, float, float]]] = {"naive": []}
        runs.update({f"modelship score ({name})": [] for name in trees})
        for round_number in range(arguments.rounds):
            naive = [sys.executable, "-c", NAIVE, str(work / "model.joblib"), str(table)]
            runs["naive"].append(measured([*naive, str(work / "naive.parquet")]))
            for name, tree in trees.items():
                runs[f"modelship score ({name})"].append(
                    measured(score(tree, table, work / f"{name}.parquet"))
                )
            print(
                f"round {round_number + 1}: "
                + ", ".join(
                    f"{label} {r[-1][0]:.2f} s ({r[-1][2]:.2f} s CPU)" for label, r in runs.items()
                ),
                file=sys.stderr,
            )
        startup = {
            name: statistics.median(
                run_child(score(tree, work / "small.parquet", work / f"small-{name}.parquet"))[0]
                for _ in range(3)
            )
            for name, tree in trees.items()
        }
        _, ceiling_memory, ceiling_output = run_child(
            [sys.executable, "-c", CEILING, str(work / "repo" / "bench"), str(table)]
        )
        ceiling_rate = arguments.rows / float(ceiling_output.strip())
        in_memory = {
            name: [
                float(seconds)
                for seconds in run_child(
                    with_path(
                        [sys.executable, "-c", IN_MEMORY, str(work / "repo"), str(table), "50000"],
                        tree,
                    )
                )[2].split()
            ]
            for name, tree in trees.items()
        }

    medians = {
        label: tuple(statistics.median(column) for column in zip(*figures, strict=True))
        for label, figures in runs.items()
    }
    naive_seconds, naive_memory, naive_cpu = medians["naive"]
    print(
        f"{arguments.rows:,} rows, {arguments.rounds} paired rounds (medians),"
        f" python {sys.version.split()[0]}, {os.cpu_count()} CPUs,"
        f" load average at the end {os.getloadavg()[0]:.2f},"
        f" OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}"
    )
    print()
    print(
        "| run | time for the table | rows/s | peak RSS (MiB) | CPU time (user + sys)"
        " | vs naive: speed | memory | CPU time |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, (seconds, memory, cpu) in medians.items():
        print(
            f"| {label} | {seconds:.2f} s | {arguments.rows / seconds:,.0f} | {memory:,.0f}"
            f" | {cpu:.2f} s | {naive_seconds / seconds:.2f}x | {memory / naive_memory:.2f}x"
            f" | {cpu / naive_cpu:.2f}x |"
        )
    print(
        f"| ceiling: onnxruntime on the whole table in memory (`session.run` only) |"
        f" {arguments.rows / ceiling_rate:.2f} s | {ceiling_rate:,.0f} | {ceiling_memory:,.0f}"
        " | | | | |"
    )
    print()
    for name in trees:
        seconds = medians[f"modelship score ({name})"][0]
        paired = statistics.median(
            naive / mine
            for (naive, _, _), (mine, _, _) in zip(
                runs["naive"], runs[f"modelship score ({name})"], strict=True
            )
        )
        print(
            f"- {name}: median of the per-round speed-ups over the naive script {paired:.2f}x;"
            f" {arguments.rows / seconds / ceiling_rate:.2f}x of the ceiling's rows/s;"
            f" start-up (whole command on 100 rows, median of 3) {startup[name]:.2f} s"
        )
        bare, bare_in_chunks, scorer_path = in_memory[name]
        print(
            f"  in memory, one process: bare session.run on the whole table {bare:.3f} s"
            f" ({arguments.rows / bare:,.0f} rows/s), bare in 50k-row chunks"
            f" {bare_in_chunks:.3f} s ({arguments.rows / bare_in_chunks:,.0f} rows/s),"
            f" modelship's scorer path {scorer_path:.3f} s"
            f" ({arguments.rows / scorer_path:,.0f} rows/s): {bare / scorer_path:.2f}x of bare,"
            f" {bare_in_chunks / scorer_path:.2f}x of bare in chunks"
        )


if __name__ == "__main__":
    main()
