"""NOTES.txt tells the user how to apply the minimal sample and wait for it to become Ready.

The sample and the name it carries are read from crds/samples, so the notes cannot drift
from the sample they point at.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
SAMPLE = "crds/samples/modeldeployment-minimal.yaml"


def notes(helm: str, values: dict[str, Any], tmp_path: Path) -> str:
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    result = subprocess.run(
        [
            helm,
            "install",
            "modelship",
            str(REPO / "charts" / "modelship"),
            "--namespace=modelship-system",
            "--dry-run=client",
            "--values",
            str(values_file),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.split("NOTES:\n", 1)[1]


@pytest.mark.parametrize(
    ("values", "namespace", "scope"),
    [
        ({}, "default", "in all namespaces"),
        ({"watchNamespaces": ["ml", "team-b"]}, "ml", "only in: ml, team-b"),
    ],
)
def test_notes_show_how_to_apply_a_sample_and_wait_for_ready(
    helm: str, tmp_path: Path, values: dict[str, Any], namespace: str, scope: str
) -> None:
    sample = yaml.safe_load((REPO / SAMPLE).read_text())
    name = sample["metadata"]["name"]
    # The notes say "-n default" for the sample; kubectl refuses a mismatching namespace.
    assert sample["metadata"].get("namespace", "default") == "default"
    text = notes(helm, values, tmp_path)
    assert scope in text
    assert "kubectl -n modelship-system rollout status deployment/modelship" in text
    assert f"kubectl -n {namespace} apply -f {SAMPLE}" in text
    assert f"kubectl -n {namespace} wait --for=condition=Ready mdep/{name} --timeout=10m" in text


def test_notes_warn_when_the_admission_policy_asked_for_cannot_be_created(
    helm: str, tmp_path: Path
) -> None:
    """helm install --dry-run=client serves no ValidatingAdmissionPolicy: the policy the user
    turned on is not rendered, and the notes must say so rather than stay silent."""
    text = notes(helm, {"policy": {"admission": {"enabled": True}}}, tmp_path)
    assert "WARNING: policy.admission.enabled is set" in text
    assert "WARNING: policy.admission" not in notes(helm, {}, tmp_path)


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"metrics": {"serviceMonitor": {"enabled": True}}}, "ServiceMonitor"),
        ({"monitoring": {"podMonitor": {"enabled": True}}}, "PodMonitor"),
        ({"monitoring": {"prometheusRule": {"enabled": True}}}, "PrometheusRule"),
    ],
)
def test_notes_warn_when_a_prometheus_object_asked_for_cannot_be_created(
    helm: str, tmp_path: Path, values: dict[str, Any], named: str
) -> None:
    """Without monitoring.coreos.com/v1 the PodMonitor and PrometheusRule were dropped
    silently, as the ServiceMonitor was not: each one asked for is named."""
    text = notes(helm, values, tmp_path)
    assert f"({named}) asked for, but this cluster does not serve" in text
    assert "--api-versions monitoring.coreos.com/v1" in text
    assert "monitoring.coreos.com/v1" not in notes(helm, {}, tmp_path)
