"""Every query of the Grafana dashboard and every alert expression the chart ships, run
against a real Prometheus scraping two real Tritons that play two revisions of one
ModelDeployment, labelled by the chart's own PodMonitor relabellings.

Each query must parse and run; each per-revision panel (its legend names the revision)
must return a finite value for each revision, and traffic must land on the right one.
GPU panels are held to that only where Triton exports GPU metrics (a GPU machine)."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tritonclient.http as triton_http
import yaml
from modelship.handlers import metrics
from modelship_serving.triton.server import free_port
from prometheus_client import start_http_server
from support.prometheus_server import PrometheusServer
from support.triton_revisions import MODEL_DEPLOYMENT, NAMESPACE, Revision
from tritonclient.utils import InferenceServerException

pytestmark = pytest.mark.triton

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "modelship"
DASHBOARD = CHART / "files" / "dashboards" / "modelship.json"
ALERTS = CHART / "files" / "alerts.yaml"
# What Grafana puts in place of its own variables; the window spans the traffic sent.
RATE_WINDOW = "15s"
TRAFFIC_SECONDS = 10.0
SCRAPE_CATCH_UP_SECONDS = 20.0


def _binary(name: str, hint: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed: {hint}")
    return found


def _pod_monitor_endpoint() -> dict[str, Any]:
    local = REPO / ".tools" / "bin" / "helm"
    helm = str(local) if local.is_file() else _binary("helm", "run hack/install-helm.sh")
    rendered = subprocess.run(
        [helm, "template", "modelship", str(CHART), "--api-versions=monitoring.coreos.com/v1",
         "--set=monitoring.podMonitor.enabled=true", "--show-only=templates/podmonitor.yaml"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    (endpoint,) = yaml.safe_load(rendered)["spec"]["podMetricsEndpoints"]
    return dict(endpoint)


def _scrape_config(revisions: list[Revision]) -> dict[str, Any]:
    """What the Prometheus Operator makes of the chart's PodMonitor, for pods we name here.

    Kubernetes service discovery's meta labels are given as static labels; the operator's
    own namespace and pod relabellings come first, the PodMonitor's after them."""
    endpoint = _pod_monitor_endpoint()
    relabel = [
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
    ] + [
        {"source_labels": rule["sourceLabels"], "target_label": rule["targetLabel"]}
        for rule in endpoint["relabelings"]
    ]
    return {
        "job_name": "triton",
        "metrics_path": endpoint["path"],
        "static_configs": [
            {
                "targets": [revision.metrics_target],
                "labels": {
                    "__meta_kubernetes_namespace": NAMESPACE,
                    "__meta_kubernetes_pod_name": revision.pod,
                    "__meta_kubernetes_pod_label_modelship_dev_deployment": MODEL_DEPLOYMENT,
                    "__meta_kubernetes_pod_label_modelship_dev_revision": revision.name,
                },
            }
            for revision in revisions
        ],
        "relabel_configs": relabel,
    }


def _inputs(client: Any, city: bytes) -> list[Any]:
    config = client.get_model_config("churn")
    inputs = []
    for spec in config["input"]:
        if spec["data_type"] == "TYPE_STRING":
            tensor = triton_http.InferInput(spec["name"], [1, 1], "BYTES")
            tensor.set_data_from_numpy(np.array([[city]], dtype=object))
        else:
            tensor = triton_http.InferInput(spec["name"], [1, 1], "FP32")
            tensor.set_data_from_numpy(np.array([[42.0]], dtype=np.float32))
        inputs.append(tensor)
    return inputs


def _send_traffic(revisions: list[Revision]) -> dict[str, tuple[int, int]]:
    """Requests to each revision, the first three times busier; one in five fails inside
    the backend (text that is not UTF-8). Returns (successes, failures) per revision."""
    clients = [triton_http.InferenceServerClient(r.http) for r in revisions]
    good = [_inputs(c, b"paris") for c in clients]
    bad = [_inputs(c, b"\xff\xfe") for c in clients]
    counts = {r.name: [0, 0] for r in revisions}
    tick = 0
    deadline = time.monotonic() + TRAFFIC_SECONDS
    while time.monotonic() < deadline:
        for index, revision in enumerate(revisions):
            if index > 0 and tick % 3:
                continue
            failing = (tick // (3 if index else 1)) % 5 == 4
            try:
                clients[index].infer("churn", bad[index] if failing else good[index])
            except InferenceServerException:  # the failure is the point; Triton counts it
                counts[revision.name][1] += 1
            else:
                counts[revision.name][0] += 1
        tick += 1
        time.sleep(0.05)
    for client in clients:
        client.close()
    return {name: (ok, failed) for name, (ok, failed) in counts.items()}


def _wait_for_scrapes(prometheus: PrometheusServer, sent: dict[str, tuple[int, int]]) -> None:
    want = {name: float(ok) for name, (ok, _) in sent.items()}
    deadline = time.monotonic() + SCRAPE_CATCH_UP_SECONDS
    seen: dict[str, float] = {}
    while time.monotonic() < deadline:
        answer = prometheus.query("sum by (revision) (nv_inference_request_success)")
        seen = {s["metric"]["revision"]: float(s["value"][1]) for s in answer["data"]["result"]}
        if seen == want:
            return
        time.sleep(0.5)
    raise AssertionError(f"Prometheus never saw the requests sent: {seen} != {want}")


def _substituted(expr: str, revision: str = ".+") -> str:
    for variable, value in (
        ("$__rate_interval", RATE_WINDOW),
        ("$namespace", NAMESPACE),
        ("$modeldeployment", MODEL_DEPLOYMENT),
        ("$revision", revision),
    ):
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a variable is left in {expr!r}"
    return expr


def _panel_targets() -> list[tuple[str, dict[str, Any]]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target)
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def test_every_dashboard_and_alert_query_runs_and_revisions_show_side_by_side(
    revisions: list[Revision],
) -> None:
    binary = _binary("prometheus", "run hack/install-prometheus.sh (hack/test.sh does)")
    with (
        operator_metrics() as operator,
        PrometheusServer(binary, [_scrape_config(revisions), _operator_scrape(operator)]) as prom,
    ):
        sent = _send_traffic(revisions)
        at = str(time.time())
        assert all(ok and failed for ok, failed in sent.values()), sent
        _wait_for_scrapes(prom, sent)
        gpu = "nv_gpu_utilization" in _triton_metrics(revisions[0])
        names = {r.name for r in revisions}

        problems: list[str] = []
        for title, target in _panel_targets():
            answer = prom.api("query", query=_substituted(target["expr"]), time=at)
            if answer["status"] != "success":
                problems.append(f"{title}: {answer.get('error')}")
                continue
            series = answer["data"]["result"]
            if "modelship_" in target["expr"] and not series:
                problems.append(f"{title} {target['refId']}: no data from the operator's metrics")
            if "{{revision" not in target.get("legendFormat", ""):
                continue
            if "nv_gpu_" in target["expr"] and not gpu:
                continue  # no GPU here, so Triton exports no GPU series
            finite = {
                s["metric"].get("revision") for s in series if math.isfinite(float(s["value"][1]))
            }
            if finite != names:
                problems.append(f"{title} {target['refId']}: revisions with data {finite}")
        firing: dict[str, list[dict[str, str]]] = {}
        for rule in _alert_rules():
            answer = prom.api("query", query=rule["expr"], time=at)
            if answer["status"] != "success":
                problems.append(f"alert {rule['alert']}: {answer.get('error')}")
            elif answer["data"]["result"]:
                firing[rule["alert"]] = [s["metric"] for s in answer["data"]["result"]]
        assert problems == []
        assert set(firing) == FIRING_ALERTS
        # The per-object series keep the object's namespace, not the operator pod's.
        assert [(m["namespace"], m["name"]) for m in firing["ModelDeploymentNotReady"]] == [
            (NAMESPACE, MODEL_DEPLOYMENT)
        ]

        # The busier revision shows as busier: series are attributed, not mixed.
        requests = _one_target("Requests")
        answer = prom.api("query", query=_substituted(requests), time=at)
        rates = {s["metric"]["revision"]: float(s["value"][1]) for s in answer["data"]["result"]}
        busy, quiet = (r.name for r in revisions)
        assert rates[busy] > 2 * rates[quiet], rates
        # Picking one revision shows that one only.
        only = prom.api("query", query=_substituted(requests, quiet), time=at)
        assert {s["metric"]["revision"] for s in only["data"]["result"]} == {quiet}


# What the operator's metrics below make fire: everything but the operator being down.
FIRING_ALERTS = {
    "ModelshipReconcileErrors",
    "ModelDeploymentNotReady",
    "ModelDeploymentRolloutFailed",
    "ModelDeploymentBatchJobFailed",
    "RetrainJobRunFailed",
}


@contextmanager
def operator_metrics() -> Iterator[str]:
    """The operator's metrics module, served as the operator serves it, holding the status of
    a failed rollout with a failed batch job, a failed RetrainJob run and a Ready deployment;
    a thread counts reconciles and errors while the test runs."""
    failed = [
        {"type": "Ready", "status": "False", "reason": "RolloutFailed"},
        {"type": "Degraded", "status": "True", "reason": "RolloutFailed"},
    ]
    batch = [{"name": "nightly", "lastFailureTime": "2026-11-29T02:00:00Z"}]
    objects = [
        ("ModelDeployment", MODEL_DEPLOYMENT, {"conditions": failed, "batch": batch}),
        ("RetrainJob", "churn-retrain", {"conditions": [
            {"type": "Ready", "status": "False", "reason": "RunFailed"}]}),
        ("ModelDeployment", "iris", {"conditions": [
            {"type": "Ready", "status": "True", "reason": "Serving"}]}),
    ]  # fmt: skip
    bodies = [
        {"kind": kind, "metadata": {"namespace": NAMESPACE, "name": name, "uid": name}}
        for kind, name, _ in objects
    ]
    for body, (_, _, status) in zip(bodies, objects, strict=True):
        metrics.observe_status(body, status)
    stop = threading.Event()

    def reconcile_now_and_then() -> None:
        while not stop.wait(0.2):
            metrics.RECONCILES.labels("ModelDeployment", "timer").inc()
            metrics.RECONCILE_ERRORS.labels("ModelDeployment", "RejectedError").inc()
            metrics.RECONCILE_SECONDS.labels("ModelDeployment").observe(0.01)
            metrics.WRITES.labels("ModelDeployment", "status").inc()

    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1")
    counter = threading.Thread(target=reconcile_now_and_then, daemon=True)
    counter.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        stop.set()
        counter.join(5)
        server.shutdown()
        server.server_close()
        thread.join(5)
        for body in bodies:
            metrics.forget(body)


def _operator_scrape(target: str) -> dict[str, Any]:
    """As the chart's ServiceMonitor scrapes the operator: the metrics Service's name as job,
    the operator pod's namespace as a target label, and honour_labels so that the
    per-object series keep the namespace of their object."""
    return {
        "job_name": "modelship-metrics",
        "honor_labels": True,
        "static_configs": [
            {"targets": [target], "labels": {"namespace": "modelship-system", "pod": "op-0"}}
        ],
    }


def test_the_dashboard_variables_list_what_prometheus_holds(revisions: list[Revision]) -> None:
    binary = _binary("prometheus", "run hack/install-prometheus.sh (hack/test.sh does)")
    variables = {
        v["name"]: v["query"]
        for v in json.loads(DASHBOARD.read_text())["templating"]["list"]
        if v["type"] == "query"
    }
    expected = {
        "namespace": [NAMESPACE],
        "modeldeployment": [MODEL_DEPLOYMENT],
        "revision": sorted(r.name for r in revisions),
    }
    assert set(variables) == set(expected)
    with PrometheusServer(binary, [_scrape_config(revisions)]) as prometheus:
        _send_traffic_briefly(revisions)
        for name, query in variables.items():
            found = re.fullmatch(r"label_values\((.+), (\w+)\)", query)
            assert found, f"{name}: {query!r} is not label_values(selector, label)"
            selector, label = _substituted(found[1]), found[2]

            def values(sel: str = selector, lab: str = label) -> list[str]:
                return sorted(prometheus.api(f"label/{lab}/values", **{"match[]": sel})["data"])

            deadline = time.monotonic() + SCRAPE_CATCH_UP_SECONDS
            while values() != expected[name] and time.monotonic() < deadline:
                time.sleep(0.5)
            assert values() == expected[name], name


def _send_traffic_briefly(revisions: list[Revision]) -> None:
    for revision in revisions:
        with triton_http.InferenceServerClient(revision.http) as client:
            client.infer("churn", _inputs(client, b"lyon"))


def _triton_metrics(revision: Revision) -> str:
    assert revision.server.endpoints is not None
    with urllib.request.urlopen(revision.server.endpoints.metrics, timeout=5) as response:
        return str(response.read().decode())


def _alert_rules() -> list[dict[str, Any]]:
    return [
        rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]
    ]


def _one_target(title: str) -> str:
    (expr,) = [target["expr"] for panel_title, target in _panel_targets() if panel_title == title]
    return str(expr)
