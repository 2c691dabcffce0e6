"""The chart's objects of upstream kinds (ServiceMonitor, and any PodMonitor or PrometheusRule)
pass the prometheus-operator CRDs, schema and CEL rules alike.

Renders the chart with the real helm, with every optional object of an upstream kind
switched on (add the values that switch on a new one to UPSTREAM_VALUES).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml
from support.helm import find_helm
from support.upstream_crd import upstream_crds

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "modelship"
UPSTREAM_VALUES: dict[str, Any] = {
    "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
    "monitoring": {
        "podMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
        "prometheusRule": {"enabled": True, "labels": {"release": "prometheus"}},
    },
}
UPSTREAM_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
API_VERSIONS = ("monitoring.coreos.com/v1",)


def test_chart_objects_of_upstream_kinds_pass_their_crds(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(UPSTREAM_VALUES))
    versions = [arg for v in API_VERSIONS for arg in ("--api-versions", v)]
    printed = subprocess.run(
        [find_helm(), "template", "modelship", str(CHART), "-n", "modelship-system",
         "--values", str(values), *versions],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    objects = [obj for obj in yaml.safe_load_all(printed) if obj]
    crds = upstream_crds()
    upstream = [obj for obj in objects if (obj["apiVersion"], obj["kind"]) in crds]
    assert {obj["kind"] for obj in upstream} == UPSTREAM_KINDS
    found = {
        f"{obj['kind']}/{obj['metadata']['name']}": problems
        for obj in upstream
        if (problems := crds[obj["apiVersion"], obj["kind"]].problems(obj))
    }
    assert found == {}
