"""Renders the Helm chart with the real helm binary, once per value set, for the chart tests."""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.helm import find_helm

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "modelship"
RELEASE = "modelship"
RELEASE_NAMESPACE = "modelship-system"
# The Kubernetes versions every rendered object must validate against.
KUBERNETES_VERSIONS = ("1.29", "1.37")

Manifest = dict[str, Any]


@dataclass(frozen=True)
class ValueSet:
    """Values to install the chart with, and the API versions the cluster is said to serve."""

    values: dict[str, Any]
    api_versions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rendered:
    """What `helm template` printed, parsed."""

    objects: list[Manifest] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Manifest]:
        return [obj for obj in self.objects if obj["kind"] == kind]

    def one(self, kind: str) -> Manifest:
        (found,) = self.of_kind(kind)
        return found

    def named(self, kind: str, name: str) -> Manifest:
        (found,) = (obj for obj in self.of_kind(kind) if obj["metadata"]["name"] == name)
        return found


VALUE_SETS: dict[str, ValueSet] = {
    "default": ValueSet({}),
    "namespaced": ValueSet({"watchNamespaces": ["ml-team-a", "ml-team-b"]}),
    "peering": ValueSet({"replicaCount": 2, "peering": {"enabled": True}}),
    "namespaced-peering": ValueSet(
        {"replicaCount": 3, "peering": {"enabled": True}, "watchNamespaces": ["ml-team-a"]}
    ),
    "service-monitor": ValueSet(
        {"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}}},
        api_versions=("monitoring.coreos.com/v1",),
    ),
    "everything-set": ValueSet(
        {
            "image": {
                "repository": "registry.example.com/modelship/operator",
                "digest": "sha256:" + "ab" * 32,
                "pullPolicy": "Always",
            },
            "imagePullSecrets": ["registry-credentials"],
            "serviceAccount": {"annotations": {"iam.example.com/role": "modelship"}},
            "operator": {
                "logFormat": "plain",
                "logLevel": "debug",
                "resyncInterval": 300,
                "extraArgs": ["--verbose"],
                "extraEnv": [{"name": "TZ", "value": "UTC"}],
            },
            "metrics": {"service": {"annotations": {"prometheus.io/scrape": "true"}}},
            "resources": {
                "requests": {"cpu": "200m", "memory": "256Mi"},
                "limits": {"memory": "1Gi"},
            },
            "priorityClassName": "system-cluster-critical",
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [
                {"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}
            ],
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "pool", "operator": "In", "values": ["ops"]}
                                ]
                            }
                        ]
                    }
                }
            },
            "podAnnotations": {"example.com/team": "ml-platform"},
            "podLabels": {"example.com/cost-center": "ml"},
            "argocd": {"healthChecks": {"enabled": True}},
        }
    ),
}


@pytest.fixture(scope="session")
def value_sets() -> dict[str, ValueSet]:
    return VALUE_SETS


# The chart is tested with both major versions of Helm users run: hack/install-helm.sh
# installs Helm 4 as `helm` and Helm 3 as `helm3`.
HELM_BINARIES = ("helm", "helm3")


@pytest.fixture(scope="session")
def helm() -> str:
    """Helm 4, which renders the chart for the tests of what it contains."""
    return find_helm("helm")


@pytest.fixture(scope="session")
def helm_versions() -> dict[str, str]:
    """`helm version --short` of each helm binary."""
    return {
        binary: subprocess.run(
            [find_helm(binary), "version", "--short"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
        for binary in HELM_BINARIES
    }


@pytest.fixture
def helm_template_in() -> Callable[[str, ValueSet, Path], Rendered]:
    """Renders a value set with the named helm binary."""

    def _template(binary: str, value_set: ValueSet, tmp_dir: Path) -> Rendered:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        return helm_template(find_helm(binary), value_set, tmp_dir)

    return _template


@pytest.fixture(scope="session", params=HELM_BINARIES)
def any_helm(request: pytest.FixtureRequest) -> str:
    """Each installed major version of Helm in turn."""
    binary: str = request.param
    return find_helm(binary)


def run_helm(
    helm: str, *args: str, values: dict[str, Any], tmp_dir: Path
) -> subprocess.CompletedProcess[str]:
    values_file = tmp_dir / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    return subprocess.run(
        [helm, *args, "--values", str(values_file)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def helm_template(
    helm: str, value_set: ValueSet, tmp_dir: Path, release: str = RELEASE
) -> Rendered:
    """Runs `helm template` (CRDs included) with a value set and parses what it prints."""
    api_versions = [f"--api-versions={version}" for version in value_set.api_versions]
    result = run_helm(
        helm,
        "template",
        release,
        str(CHART),
        f"--namespace={RELEASE_NAMESPACE}",
        "--include-crds",
        *api_versions,
        values=value_set.values,
        tmp_dir=tmp_dir,
    )
    assert result.returncode == 0, result.stderr
    return Rendered([doc for doc in yaml.safe_load_all(result.stdout) if doc])


@pytest.fixture(scope="session")
def template(helm: str, tmp_path_factory: pytest.TempPathFactory) -> Callable[[ValueSet], Rendered]:
    """Renders a value set with Helm 4."""

    def _template(value_set: ValueSet) -> Rendered:
        return helm_template(helm, value_set, tmp_path_factory.mktemp("values"))

    return _template


@pytest.fixture
def template_with_any_helm(any_helm: str, tmp_path: Path) -> Callable[..., Rendered]:
    """Renders values, as a release of the given name and with the cluster said to serve
    the given API versions, with each major version of Helm."""

    def _template(
        values: dict[str, Any], release: str = RELEASE, api_versions: tuple[str, ...] = ()
    ) -> Rendered:
        return helm_template(any_helm, ValueSet(values, api_versions), tmp_path, release)

    return _template


@pytest.fixture(scope="session")
def render(template: Callable[[ValueSet], Rendered]) -> Callable[[str], Rendered]:
    """Renders a named value set; helm runs once per set in a session."""

    @functools.cache
    def _render(name: str) -> Rendered:
        return template(VALUE_SETS[name])

    return _render


@pytest.fixture
def lint(any_helm: str, tmp_path: Path) -> Callable[[dict[str, Any]], tuple[int, str]]:
    """Runs `helm lint --strict` on the chart with the given values, with each major
    version of Helm: exit code and output."""

    def _lint(values: dict[str, Any]) -> tuple[int, str]:
        result = run_helm(any_helm, "lint", "--strict", str(CHART), values=values, tmp_dir=tmp_path)
        return result.returncode, result.stdout + result.stderr

    return _lint


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Runs a test taking `value_set` for every value set (unless it names its own),
    and a test taking `kubernetes_version` for each supported version."""
    named: set[str] = set()
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0]
        named.update(names.split(",") if isinstance(names, str) else names)
    if "value_set" in metafunc.fixturenames and "value_set" not in named:
        metafunc.parametrize("value_set", sorted(VALUE_SETS))
    if "kubernetes_version" in metafunc.fixturenames:
        metafunc.parametrize("kubernetes_version", KUBERNETES_VERSIONS)
