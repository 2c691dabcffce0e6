"""The chart's PodMonitor, PrometheusRule and dashboard ConfigMap: the ConfigMap valid against
Kubernetes' own schema, and the PodMonitor selecting the Triton pods `modelship render` builds,
on their metrics port. (tests/conformance/upstream checks both monitors against their
upstream CRDs, schema and CEL rules.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from support.prometheus_chart import (
    DASHBOARD_FILE,
    EVERYTHING_ON,
    NAMESPACE,
    REPO,
    Manifest,
    helm,
    helm_run,
    one,
    render,
)

TRITON_METRICS_PORT = 8002
WATCHED = {**EVERYTHING_ON, "watchNamespaces": ["ml-team-a", "ml-team-b"]}


def test_the_dashboard_configmap_is_valid_and_carries_the_file() -> None:
    configmap = one(render(), "ConfigMap")
    kubernetes_validate.validate(configmap, "1.29", strict=True)
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(configmap["data"]["modelship.json"]) == json.loads(DASHBOARD_FILE.read_text())


def test_the_dashboard_goes_where_grafana_looks() -> None:
    # Helm merges maps: a sidecar that wants another label sets it and nulls the default.
    labels = {"dashboards": "ml", "grafana_dashboard": None}
    values = {"monitoring": {"dashboard": {"enabled": True, "namespace": "grafana",
                                           "labels": labels}}}  # fmt: skip
    configmap = one(render(values), "ConfigMap")
    assert configmap["metadata"]["namespace"] == "grafana"
    assert configmap["metadata"]["labels"]["dashboards"] == "ml"
    assert "grafana_dashboard" not in configmap["metadata"]["labels"]


def test_nothing_by_default_and_no_prometheus_objects_where_their_api_is_not_served() -> None:
    kinds = {"PodMonitor", "PrometheusRule"}
    assert not [o for o in render({}) if o["kind"] in kinds | {"ConfigMap"}]
    assert not [o for o in render(EVERYTHING_ON, api_versions=()) if o["kind"] in kinds]


def test_the_pod_monitor_watches_the_namespaces_the_operator_watches() -> None:
    assert one(render(), "PodMonitor")["spec"]["namespaceSelector"] == {"any": True}
    assert one(render(WATCHED), "PodMonitor")["spec"]["namespaceSelector"] == {
        "matchNames": ["ml-team-a", "ml-team-b"]
    }
    assert one(render(WATCHED), "PodMonitor")["metadata"]["namespace"] == NAMESPACE


def _rendered_triton_pod_template() -> Manifest:
    modelship = Path(sys.executable).parent / "modelship"
    sample = REPO / "crds" / "samples" / "modeldeployment-minimal.yaml"
    result = subprocess.run(
        [str(modelship), "render", "-f", str(sample)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    deployments = [d for d in yaml.safe_load_all(result.stdout) if d and d["kind"] == "Deployment"]
    return dict(deployments[0]["spec"]["template"])


def test_the_pod_monitor_selects_the_triton_pods_on_their_metrics_port() -> None:
    pod = _rendered_triton_pod_template()
    labels = pod["metadata"]["labels"]
    spec = one(render(), "PodMonitor")["spec"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    (endpoint,) = spec["podMetricsEndpoints"]
    ports = {p["name"]: p["containerPort"] for c in pod["spec"]["containers"] for p in c["ports"]}
    assert ports[endpoint["port"]] == TRITON_METRICS_PORT
    # Each relabelling reads a label the pods carry (Kubernetes SD: non-alphanumerics become _).
    sd_labels = {
        "__meta_kubernetes_pod_label_" + "".join(c if c.isalnum() else "_" for c in key): key
        for key in labels
    }
    for relabel in endpoint["relabelings"]:
        (source,) = relabel["sourceLabels"]
        assert source in sd_labels, f"{source}: no such pod label"
    targets = {relabel["targetLabel"] for relabel in endpoint["relabelings"]}
    assert targets == {"modeldeployment", "revision"}


def test_lint_passes_with_monitoring_on() -> None:
    helm()
    for values in (EVERYTHING_ON, WATCHED):
        result = helm_run("lint", "--strict", str(REPO / "charts" / "modelship"), values=values)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"podMonitor": {"interval": "often"}}, "at '/monitoring/podMonitor/interval'"),
        ({"prometheusRule": {"operatorJob": 'a"b'}}, "at '/monitoring/prometheusRule/operatorJob'"),
        ({"prometheusRule": {"extraGroups": [{"rules": []}]}}, "missing property 'name'"),
        ({"dashboard": {"namespace": "Grafana"}}, "at '/monitoring/dashboard/namespace'"),
        ({"alerts": True}, "additional properties 'alerts' not allowed"),
    ],
)
def test_lint_refuses_bad_monitoring_values_naming_the_key(
    values: dict[str, Any], message: str
) -> None:
    helm()
    result = helm_run("lint", "--strict", str(REPO / "charts" / "modelship"),
                      values={"monitoring": values})  # fmt: skip
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


def test_the_operator_down_alert_needs_a_job_to_watch() -> None:
    values = {"metrics": {"service": {"enabled": False}},
              "monitoring": {"prometheusRule": {"enabled": True}}}  # fmt: skip
    result = helm_run("lint", "--strict", str(REPO / "charts" / "modelship"), values=values)
    assert result.returncode != 0
    assert "at '/metrics/service/enabled': value must be true" in result.stdout + result.stderr
    values["monitoring"]["prometheusRule"]["operatorJob"] = "modelship"
    result = helm_run("lint", "--strict", str(REPO / "charts" / "modelship"), values=values)
    assert result.returncode == 0, result.stdout + result.stderr
