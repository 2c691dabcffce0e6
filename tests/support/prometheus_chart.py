"""The chart's monitoring objects, rendered by the real helm binary."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from support.helm import find_helm

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "modelship"
ALERTS_FILE = CHART / "files" / "alerts.yaml"
DASHBOARD_FILE = CHART / "files" / "dashboards" / "modelship.json"
MONITORING_API = "monitoring.coreos.com/v1"
# With release name `modelship` the operator's scrape job is the one files/alerts.yaml names.
RELEASE = "modelship"
NAMESPACE = "modelship-system"
EVERYTHING_ON = {
    "monitoring": {
        "podMonitor": {"enabled": True},
        "prometheusRule": {"enabled": True},
        "dashboard": {"enabled": True},
    }
}

Manifest = dict[str, Any]


def helm() -> str:
    return find_helm()


def helm_run(*args: str, values: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as values_file:
        json.dump(values, values_file)
        values_file.flush()
        return subprocess.run(
            [helm(), *args, "--values", values_file.name],
            capture_output=True,
            text=True,
            timeout=60,
        )


def render(
    values: dict[str, Any] | None = None,
    release: str = RELEASE,
    api_versions: tuple[str, ...] = (MONITORING_API,),
) -> list[Manifest]:
    """`helm template` of the chart with these values; every object it prints."""
    result = helm_run(
        "template",
        release,
        str(CHART),
        f"--namespace={NAMESPACE}",
        *(f"--api-versions={api}" for api in api_versions),
        values=EVERYTHING_ON if values is None else values,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def one(objects: list[Manifest], kind: str) -> Manifest:
    (found,) = [obj for obj in objects if obj["kind"] == kind]
    return found


def rendered_rule_groups(values: dict[str, Any] | None = None, release: str = RELEASE) -> Manifest:
    """The rendered PrometheusRule's spec: a Prometheus rule file (groups)."""
    return dict(one(render(values, release), "PrometheusRule")["spec"])
