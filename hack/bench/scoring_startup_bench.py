"""Start-up of `modelship score` (the whole command on a 100-row table), this checkout
against a git revision, in alternating child processes (not a test).

scoring_speed_bench.py's start-up figure is a median of 3 runs, too few on a busy
machine; this one alternates the two trees for ``--rounds`` rounds and prints the
medians of wall time and of CPU time (user + system, the figure other work changes least).

    PYTHONPATH=tests .venv/bin/python hack/bench/scoring_startup_bench.py \
        --rounds 11 --before d7831df
"""

from __future__ import annotations

import os
import statistics

from scoring_bench import bench_parser, make_table, packaged_bench, rescore_command
from scoring_speed_bench import REPOSITORY, compile_tree, export_revision, measured, with_path


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--before", required=True, help="a git revision, e.g. d7831df")
    arguments = parser.parse_args()
    with packaged_bench("scoring-startup-") as work:
        make_table(100, 3).to_parquet(work / "small.parquet", index=False)
        trees = {"after": REPOSITORY, "before": export_revision(arguments.before, work / "before")}
        for tree in trees.values():
            compile_tree(tree)
        figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name in trees}
        for _ in range(arguments.rounds):
            for name, tree in trees.items():
                score = rescore_command(work, work / "small.parquet", work / f"{name}.parquet")
                figures[name].append(measured(with_path(score, tree)))
    print(
        f"{arguments.rounds} alternating rounds, load average at the end {os.getloadavg()[0]:.2f}"
    )
    for name, runs in figures.items():
        wall = statistics.median(seconds for seconds, _, _ in runs)
        cpu = statistics.median(cpu for _, _, cpu in runs)
        print(f"{name}: start-up {wall:.3f} s, CPU time {cpu:.3f} s (medians)")


if __name__ == "__main__":
    main()
