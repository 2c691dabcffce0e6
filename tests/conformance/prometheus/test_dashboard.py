"""The Grafana dashboard, checked offline: every query parses as PromQL (promtool, with
Grafana's variables filled in), uses only variables the dashboard defines, and every Triton
query is scoped to one ModelDeployment's chosen revisions. tests/integration/observability
runs the same queries against a real Prometheus scraping real Tritons."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from support.prometheus_chart import DASHBOARD_FILE
from support.promtool_runner import run_promtool

GRAFANA_BUILTINS = {"__rate_interval": "1m", "__interval": "1m", "__range": "1h"}
SCOPE = ('namespace="$namespace"', 'modeldeployment="$modeldeployment"', 'revision=~"$revision"')


def _dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD_FILE.read_text()))


def _exprs() -> list[tuple[str, str]]:
    return [
        (panel["title"], target["expr"])
        for panel in _dashboard()["panels"]
        for target in panel.get("targets", [])
    ]


def _variables() -> dict[str, str]:
    return {v["name"]: v.get("query", "") for v in _dashboard()["templating"]["list"]}


def test_every_query_parses_as_promql(tmp_path: Path) -> None:
    values = {name: "x" for name in _variables()} | GRAFANA_BUILTINS
    rules = [
        {"record": f"dashboard:query_{index}", "expr": _fill(expr, values)}
        for index, (_, expr) in enumerate(_exprs())
    ]
    (tmp_path / "queries.yaml").write_text(
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]})
    )
    run_promtool("check", "rules", str(tmp_path / "queries.yaml"))


def test_queries_use_only_variables_the_dashboard_defines() -> None:
    defined = set(_variables()) | set(GRAFANA_BUILTINS)
    used = {
        name
        for _, expr in _exprs() + [("", q) for q in _variables().values()]
        for name in re.findall(r"\$\{?(\w+)", expr)
    }
    assert used <= defined, used - defined


def test_every_triton_query_shows_one_deployments_chosen_revisions() -> None:
    triton = [(title, expr) for title, expr in _exprs() if re.search(r"\b(nv_|up\b)", expr)]
    assert triton
    for title, expr in triton:
        for selector in re.findall(r"\{([^}]*)\}", expr):
            assert all(part in selector for part in SCOPE), f"{title}: {selector}"


def test_panels_have_unique_ids_and_use_the_chosen_data_source() -> None:
    panels = _dashboard()["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    for panel in panels:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def _fill(expr: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: values[m[1]], expr)
