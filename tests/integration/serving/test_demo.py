"""`modelship demo` (what `make demo` runs) does the whole loop for real: Triton's answers
agree with scikit-learn's, a clean batch shows no drift while a shifted copy shows drift in
the shifted feature only, and the ModelDeployment for the model renders to its children."""

from __future__ import annotations

from click.testing import CliRunner
from modelship.cli import main


def test_demo_runs_the_whole_loop() -> None:
    result = CliRunner().invoke(main, ["demo", "--rows", "3"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "   all agree" in lines
    assert any(
        line.startswith("6. Batch-scored the held-out table: 45 of 45 rows")
        and line.endswith("drifted features: none")
        for line in lines
    ), result.output
    assert any(
        "drifted copy (alcohol + 1.5) of the table: 45 of 45 rows" in line
        and line.endswith("drifted features: alcohol")
        for line in lines
    ), result.output
    rendered = lines[
        lines.index("7. In a cluster, this ModelDeployment (see `modelship render`) would become:")
        + 1 :
    ]
    assert [line.split()[0] for line in rendered] == [
        "Deployment",
        "Service",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "CronJob",
    ]
