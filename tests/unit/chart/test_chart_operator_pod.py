"""The operator Deployment runs `modelship operator` the way the values say, safely.

Its pod meets the `restricted` Pod Security Standard (checked field by field as the
standard defines it), has probes, resources and a read-only root with a writable /tmp, and
its command line, image and scheduling follow the values, compared whole per value set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from modelship.cli.operator import run_operator
from modelship.handlers.settings import OperatorSettings
from support.restricted_pods import restricted_violations


def operator_pod(render: Callable[[str], Any], value_set: str) -> dict[str, Any]:
    spec: dict[str, Any] = render(value_set).one("Deployment")["spec"]["template"]["spec"]
    return spec


def test_restricted_pod_security(render: Callable[[str], Any], value_set: str) -> None:
    assert restricted_violations(operator_pod(render, value_set)) == []


def test_the_checker_catches_what_restricted_forbids() -> None:
    pod = {
        "hostNetwork": True,
        "volumes": [{"name": "host", "hostPath": {"path": "/"}}],
        "containers": [
            {
                "name": "bad",
                "securityContext": {"runAsUser": 0, "capabilities": {"add": ["SYS_ADMIN"]}},
                "ports": [{"containerPort": 80, "hostPort": 80}],
            }
        ],
    }
    assert restricted_violations(pod) == [
        "hostNetwork is set",
        "volume host is of type {'hostPath'}",
        "bad: allowPrivilegeEscalation is not false",
        "bad: capabilities do not drop ALL",
        "bad: adds capabilities ['SYS_ADMIN']",
        "bad: runAsNonRoot is not true",
        "bad: runs as uid 0",
        "bad: seccompProfile is None",
        "bad: uses a hostPort",
    ]


def test_read_only_root_with_scratch_tmp_probes_and_resources(
    render: Callable[[str], Any], value_set: str
) -> None:
    pod = operator_pod(render, value_set)
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
    probe = {"httpGet": {"path": "/healthz", "port": "health"}}
    assert probe.items() <= container["livenessProbe"].items()
    assert probe.items() <= container["readinessProbe"].items()
    assert container["resources"]["requests"].keys() == {"cpu", "memory"}
    assert "memory" in container["resources"]["limits"]
    assert pod["automountServiceAccountToken"] is True


PORTS_AND_LOGS = [
    "--liveness-port=8080",
    "--metrics-port=9090",
    "--resync-interval=60",
    "--log-format=json",
]

# value set -> the operator's command line, whole (flags of modelship.cli.operator).
EXPECTED_ARGS: dict[str, list[str]] = {
    "default": ["operator", *PORTS_AND_LOGS],
    "namespaced": ["operator", "--namespace=ml-team-a", "--namespace=ml-team-b", *PORTS_AND_LOGS],
    "peering": ["operator", "--peering=modelship", *PORTS_AND_LOGS],
    "namespaced-peering": [
        "operator",
        "--namespace=ml-team-a",
        "--peering=modelship",
        *PORTS_AND_LOGS,
    ],
    "service-monitor": ["operator", *PORTS_AND_LOGS],
    "everything-set": [
        "operator",
        "--liveness-port=8080",
        "--metrics-port=9090",
        "--resync-interval=300",
        "--log-format=plain",
        "--debug",
        "--verbose",
    ],
}


def test_operator_command_line(render: Callable[[str], Any], value_set: str) -> None:
    (container,) = operator_pod(render, value_set)["containers"]
    assert container["command"] == ["modelship"]
    assert container["args"] == EXPECTED_ARGS[value_set]
    assert container["ports"] == [
        {"name": "health", "containerPort": 8080, "protocol": "TCP"},
        {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
    ]


def test_the_operator_command_accepts_the_chart_arguments(
    render: Callable[[str], Any], value_sets: dict[str, Any], value_set: str
) -> None:
    # Parse (not run) the rendered command line with the real CLI and its settings model.
    (container,) = operator_pod(render, value_set)["containers"]
    command, *args = container["args"]
    assert command == "operator"
    context = run_operator.make_context(command, list(args))
    settings = OperatorSettings(
        **{key: value for key, value in context.params.items() if value not in (None, ())}
    )
    values = value_sets[value_set].values
    assert settings.namespaces == values.get("watchNamespaces", [])
    expected_peering = "modelship" if values.get("peering", {}).get("enabled") else None
    assert settings.peering == expected_peering
    assert settings.liveness_endpoint == "http://0.0.0.0:8080/healthz"
    assert settings.metrics_port == 9090


def test_replicas_and_rollout_strategy(render: Callable[[str], Any], value_set: str) -> None:
    spec = render(value_set).one("Deployment")["spec"]
    expected_replicas = {"peering": 2, "namespaced-peering": 3}.get(value_set, 1)
    assert spec["replicas"] == expected_replicas
    # Without peering, two operators must never run at once, not even mid-rollout.
    if "peering" in value_set:
        assert "strategy" not in spec
    else:
        assert spec["strategy"] == {"type": "Recreate"}


def test_default_pod_settings(render: Callable[[str], Any]) -> None:
    pod = operator_pod(render, "default")
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/modelship/operator:0.1.0"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["env"] == [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "MODELSHIP_FETCH_IMAGE", "value": "ghcr.io/modelship/operator:0.1.0"},
    ]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    for absent in (
        "imagePullSecrets",
        "priorityClassName",
        "nodeSelector",
        "tolerations",
        "affinity",
    ):
        assert absent not in pod


def test_every_pod_value_reaches_the_pod(render: Callable[[str], Any]) -> None:
    template = render("everything-set").one("Deployment")["spec"]["template"]
    pod = template["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "registry.example.com/modelship/operator@sha256:" + "ab" * 32
    assert container["imagePullPolicy"] == "Always"
    assert container["env"][2:] == [
        {"name": "MODELSHIP_FETCH_IMAGE", "value": container["image"]},
        {"name": "TZ", "value": "UTC"},
    ]
    assert container["resources"] == {
        "requests": {"cpu": "200m", "memory": "256Mi"},
        "limits": {"memory": "1Gi"},
    }
    assert pod["imagePullSecrets"] == [{"name": "registry-credentials"}]
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}
    ]
    assert pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert template["metadata"]["annotations"] == {"example.com/team": "ml-platform"}
    assert template["metadata"]["labels"]["example.com/cost-center"] == "ml"
