"""`ct lint` (helm/chart-testing) replayed offline on charts/modelship.

`ct lint` runs, per chart: the version-increment check, yamale on Chart.yaml with
chart_schema.yaml, yamllint on Chart.yaml, values.yaml and ci/*-values.yaml with
lintconf.yaml, the maintainers check, then `helm lint` with each values file.
Replayed here, with ct's own rule files (chart_testing/, see SOURCE.md): yamale,
yamllint, and the part of the maintainers check that needs no network (there are
maintainers; a deprecated chart has none). `helm lint` runs in tests/unit/chart (with
--strict, with Helm 3 and Helm 4). Not replayed: whether each maintainer's name is a real
GitHub account (ct asks GitHub's API) and the version-increment check (ct compares with
the target branch of a pull request).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yamale
import yaml
from yamllint import linter
from yamllint.config import YamlLintConfig

HERE = Path(__file__).parent
RULES = HERE / "chart_testing"
CHART = HERE.parents[2] / "charts" / "modelship"


def yamale_errors(chart_yaml: Path) -> list[str]:
    schema = yamale.make_schema(str(RULES / "chart_schema.yaml"))
    try:
        yamale.validate(schema, yamale.make_data(str(chart_yaml)), strict=True)
    except yamale.YamaleError as error:
        return [str(result) for result in error.results]
    return []


def yamllint_problems(path: Path) -> list[str]:
    config = YamlLintConfig(file=str(RULES / "lintconf.yaml"))
    return [
        f"{path.name}:{problem.line}:{problem.column} {problem.level}: {problem.message}"
        for problem in linter.run(path.read_text(), config, str(path))
    ]


def linted_files() -> list[Path]:
    return [CHART / "Chart.yaml", CHART / "values.yaml", *sorted(CHART.glob("ci/*-values.yaml"))]


def test_chart_yaml_meets_ct_chart_schema() -> None:
    assert yamale_errors(CHART / "Chart.yaml") == []


@pytest.mark.parametrize("path", linted_files(), ids=lambda path: path.name)
def test_yaml_files_pass_ct_lintconf(path: Path) -> None:
    # ct fails on yamllint errors; warnings (truthy) are kept out too.
    assert yamllint_problems(path) == []


def test_maintainers_as_ct_wants_them() -> None:
    chart: dict[str, Any] = yaml.safe_load((CHART / "Chart.yaml").read_text())
    if chart.get("deprecated"):
        assert not chart.get("maintainers"), "a deprecated chart must not have maintainers"
    else:
        assert chart.get("maintainers"), "the chart has no maintainers"


def test_the_replay_catches_what_ct_would(tmp_path: Path) -> None:
    # The rules are live: a Chart.yaml without a version, with a trailing space and an
    # unknown key fails both checks.
    broken = tmp_path / "Chart.yaml"
    broken.write_text("apiVersion: v2\nname: modelship \nowner: me\n")
    assert any("version" in error for error in yamale_errors(broken))
    assert any("owner" in error for error in yamale_errors(broken))
    assert any("trailing spaces" in problem for problem in yamllint_problems(broken))
