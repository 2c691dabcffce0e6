"""The alerts the chart ships, as its template renders them from files/alerts.yaml, pass
`promtool check rules`, and each fires when it should and stays silent when healthy
(`promtool test rules`, one series file per alert under alerts/)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.prometheus_chart import ALERTS_FILE, EVERYTHING_ON, rendered_rule_groups
from support.promtool_runner import run_promtool

ALERT_TESTS = sorted((Path(__file__).parent / "alerts").glob("*.test.yaml"))


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rendered rule file, with the alert tests beside it (they name it rules.yaml)."""
    folder = tmp_path_factory.mktemp("rules")
    (folder / "rules.yaml").write_text(yaml.safe_dump(rendered_rule_groups()))
    for test in ALERT_TESTS:
        shutil.copy(test, folder / test.name)
    return folder


def test_the_rendered_rules_pass_promtool_check(rules_dir: Path) -> None:
    run_promtool("check", "rules", str(rules_dir / "rules.yaml"))


@pytest.mark.parametrize("alert_test", ALERT_TESTS, ids=lambda path: path.stem)
def test_alert_fires_when_it_should_and_not_otherwise(rules_dir: Path, alert_test: Path) -> None:
    run_promtool("test", "rules", alert_test.name, cwd=rules_dir)


def test_every_shipped_alert_has_a_firing_and_a_silent_case() -> None:
    shipped = {
        rule["alert"]
        for group in yaml.safe_load(ALERTS_FILE.read_text())["groups"]
        for rule in group["rules"]
    }
    cases = [
        case
        for path in ALERT_TESTS
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test["alert_rule_test"]
    ]
    fires = {case["alertname"] for case in cases if case.get("exp_alerts")}
    silent = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    assert fires == shipped
    assert silent == shipped


def test_the_template_ships_the_file_as_written() -> None:
    """Only the operator's job is substituted; every rule is the file's."""
    assert rendered_rule_groups() == yaml.safe_load(ALERTS_FILE.read_text())


def test_the_operator_job_follows_the_release_or_the_value(tmp_path: Path) -> None:
    def exprs(rules: dict[str, Any]) -> str:
        return "\n".join(r["expr"] for g in rules["groups"] for r in g["rules"])

    assert 'job="ml-ops-modelship-metrics"' in exprs(rendered_rule_groups(release="ml-ops"))
    assert 'job="modelship-metrics"' not in exprs(rendered_rule_groups(release="ml-ops"))
    named = {"monitoring": {"prometheusRule": {"enabled": True, "operatorJob": "kube/op"}}}
    assert 'absent(up{job="kube/op"} == 1)' in exprs(rendered_rule_groups(named))


def test_extra_groups_are_shipped_beside_the_shipped_ones(tmp_path: Path) -> None:
    canary = {
        "name": "modelship-canary",
        "rules": [
            {
                "alert": "CanaryFailing",
                "expr": "sum by (namespace, modeldeployment, revision)"
                ' (rate(nv_inference_request_failure{revision!=""}[5m])) > 1',
                "for": "10m",
                "labels": {"severity": "warning"},
            }
        ],
    }
    values = EVERYTHING_ON | {
        "monitoring": {"prometheusRule": {"enabled": True, "extraGroups": [canary]}}
    }
    rules = rendered_rule_groups(values)
    assert [g["name"] for g in rules["groups"]][-1] == "modelship-canary"
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    run_promtool("check", "rules", str(tmp_path / "rules.yaml"))
