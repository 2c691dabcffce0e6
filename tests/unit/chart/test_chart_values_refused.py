"""Values that make no sense are refused, by `helm lint --strict` and by `helm template`
(what `helm install` runs), with Helm 3 and Helm 4, in a message that names the value.

The two versions word schema errors differently (Helm 3: `- image.digest: ...`, Helm 4:
`at '/image/digest': ...`); each row says where the bad value is and the test expects
each version's own way of naming that place.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

CHART = Path(__file__).resolve().parents[3] / "charts" / "modelship"
LONG = "x" * 64


@dataclass(frozen=True)
class Bad:
    """Bad values, and where in them the error must point."""

    values: dict[str, Any]
    at: str = ""  # dotted path of the bad value ("" for the top level)
    unknown: str = ""  # a key that is not allowed there
    bad_key: str = ""  # a map key that is no valid label/annotation key
    failure: str = ""  # the chart's own message, the same in both versions

    def expected(self, major: int) -> str:
        if self.failure:
            return self.failure
        if self.bad_key:
            if major == 3:
                return f'- {self.at}: Property name of "{self.bad_key}" does not match'
            return f"invalid propertyName '{self.bad_key}'"
        if self.unknown:
            if major == 3:
                return f"- {self.at or '(root)'}: Additional property {self.unknown} is not allowed"
            return f"at '{self.pointer}': additional properties '{self.unknown}' not allowed"
        return f"- {self.at}: " if major == 3 else f"at '{self.pointer}': "

    @property
    def pointer(self) -> str:
        return "".join(f"/{part}" for part in self.at.split(".") if part)


BAD: dict[str, Bad] = {
    "negative-port": Bad({"health": {"port": -1}}, at="health.port"),
    "port-above-65535": Bad({"metrics": {"port": 70000}}, at="metrics.port"),
    "service-port-0": Bad({"metrics": {"service": {"port": 0}}}, at="metrics.service.port"),
    "same-port-twice": Bad(
        {"health": {"port": 9090}},
        failure="health.port and metrics.port are both 9090: give them different ports",
    ),
    "negative-replicas": Bad({"replicaCount": -1}, at="replicaCount"),
    "replicas-as-text": Bad({"replicaCount": "two"}, at="replicaCount"),
    "replicas-without-peering": Bad({"replicaCount": 2}, at="peering.enabled"),
    "unknown-top-level-key": Bad({"replicas": 2}, unknown="replicas"),
    "unknown-nested-key": Bad({"image": {"digets": "x"}}, at="image", unknown="digets"),
    "digest-not-sha256": Bad({"image": {"digest": "latest"}}, at="image.digest"),
    "digest-too-short": Bad({"image": {"digest": "sha256:abc"}}, at="image.digest"),
    "uppercase-repository": Bad(
        {"image": {"repository": "Registry.example.com/Operator"}}, at="image.repository"
    ),
    "tag-with-space": Bad({"image": {"tag": "1.0 beta"}}, at="image.tag"),
    "pull-policy": Bad({"image": {"pullPolicy": "Sometimes"}}, at="image.pullPolicy"),
    "pull-secret-name": Bad({"imagePullSecrets": ["Registry Key"]}, at="imagePullSecrets.0"),
    "fullname-override": Bad({"fullnameOverride": "My_Operator"}, at="fullnameOverride"),
    "namespace-name": Bad({"watchNamespaces": ["ML_Team"]}, at="watchNamespaces.0"),
    "namespace-twice": Bad({"watchNamespaces": ["a", "a"]}, at="watchNamespaces"),
    "service-account-name": Bad(
        {"serviceAccount": {"name": "Operator_SA"}}, at="serviceAccount.name"
    ),
    "log-level": Bad({"operator": {"logLevel": "trace"}}, at="operator.logLevel"),
    "log-format": Bad({"operator": {"logFormat": "xml"}}, at="operator.logFormat"),
    "resync-interval-0": Bad({"operator": {"resyncInterval": 0}}, at="operator.resyncInterval"),
    "resync-negative": Bad({"operator": {"resyncInterval": -60}}, at="operator.resyncInterval"),
    "env-without-name": Bad({"operator": {"extraEnv": [{"value": "1"}]}}, at="operator.extraEnv.0"),
    "env-key-typo": Bad(
        {"operator": {"extraEnv": [{"name": "A", "valuefrom": {}}]}},
        at="operator.extraEnv.0",
        unknown="valuefrom",
    ),
    "peering-name": Bad({"peering": {"name": "Peering_1"}}, at="peering.name"),
    "service-type": Bad(
        {"metrics": {"service": {"type": "ExternalName"}}}, at="metrics.service.type"
    ),
    "monitor-without-service": Bad(
        {"metrics": {"service": {"enabled": False}, "serviceMonitor": {"enabled": True}}},
        at="metrics.service.enabled",
    ),
    "scrape-interval-unitless": Bad(
        {"metrics": {"serviceMonitor": {"interval": "30"}}}, at="metrics.serviceMonitor.interval"
    ),
    "negative-cpu": Bad({"resources": {"requests": {"cpu": "-1"}}}, at="resources.requests.cpu"),
    "negative-memory-number": Bad(
        {"resources": {"limits": {"memory": -512}}}, at="resources.limits.memory"
    ),
    "memory-not-a-quantity": Bad(
        {"resources": {"limits": {"memory": "lots"}}}, at="resources.limits.memory"
    ),
    "root-user": Bad({"runAsUser": 0}, at="runAsUser"),
    "user-id-above-int32": Bad({"runAsUser": 2**31}, at="runAsUser"),
    "priority-class-name": Bad({"priorityClassName": "High Priority"}, at="priorityClassName"),
    "node-selector-value": Bad({"nodeSelector": {"pool": LONG}}, at="nodeSelector.pool"),
    "pod-label-value-too-long": Bad({"podLabels": {"team": LONG}}, at="podLabels.team"),
    "pod-label-key": Bad(
        {"podLabels": {"cost center": "ml"}}, at="podLabels", bad_key="cost center"
    ),
    "toleration-operator": Bad(
        {"tolerations": [{"key": "a", "operator": "Maybe"}]}, at="tolerations.0.operator"
    ),
    "affinity-typo": Bad({"affinity": {"nodeAfinity": {}}}, at="affinity", unknown="nodeAfinity"),
    # An allowed image is "*", a path ending in "/", or a repository with a path: never a
    # short name (what registry it means depends on the node), a glob, or a tag.
    "allowed-image-short-name": Bad(
        {"policy": {"allowedImages": ["python"]}}, at="policy.allowedImages.0"
    ),
    "allowed-image-glob": Bad(
        {"policy": {"allowedImages": ["ghcr.io/*"]}}, at="policy.allowedImages.0"
    ),
    "allowed-image-with-tag": Bad(
        {"policy": {"allowedImages": ["ghcr.io/x/y:1.0"]}}, at="policy.allowedImages.0"
    ),
    "allowed-images-too-many": Bad(
        {"policy": {"allowedImages": [f"r.example.com/{i}/" for i in range(65)]}},
        at="policy.allowedImages",
    ),
    "allowed-service-account": Bad(
        {"policy": {"allowedServiceAccounts": ["Risk_Trainer"]}},
        at="policy.allowedServiceAccounts.0",
    ),
    "deny-and-warn": Bad(
        {"policy": {"admission": {"validationActions": ["Deny", "Warn"]}}},
        at="policy.admission.validationActions",
    ),
    "no-validation-action": Bad(
        {"policy": {"admission": {"validationActions": []}}},
        at="policy.admission.validationActions",
    ),
}


@pytest.mark.parametrize("command", ["lint", "template"])
@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_value_is_refused_naming_it(
    any_helm: str, helm_versions: dict[str, str], command: str, case: str, tmp_path: Path
) -> None:
    bad = BAD[case]
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(bad.values))
    args = ["lint", "--strict", str(CHART)] if command == "lint" else ["template", "x", str(CHART)]
    result = subprocess.run(
        [any_helm, *args, f"--values={values_file}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    output = result.stdout + result.stderr
    # In lint mode Helm turns a template's `fail` into an [INFO] line (both versions, by
    # design); `helm install`, like `helm template`, stops on it.
    lint_reports_only = command == "lint" and bool(bad.failure)
    assert result.returncode != 0 or lint_reports_only, output
    major = int(helm_versions[Path(any_helm).name].lstrip("v").split(".")[0])
    assert bad.expected(major) in output
