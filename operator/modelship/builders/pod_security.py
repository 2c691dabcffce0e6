"""Security settings that make every pod meet the `restricted` Pod Security Standard."""

from __future__ import annotations

from typing import Any

# A non-root uid/gid present in no image's /etc/passwd is fine: nothing needs a name.
RUN_AS_USER = 1000
RUN_AS_GROUP = 1000


def pod_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "runAsGroup": RUN_AS_GROUP,
        "fsGroup": RUN_AS_GROUP,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context(read_only_root: bool = True) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": read_only_root,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def job_pod_spec(**spec: Any) -> dict[str, Any]:
    """The pod of a Job the operator runs for itself (scoring, a gate, a validation): run once,
    restricted, with no API token and no Service environment; `spec` adds the containers."""
    return {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(),
        **spec,
    }
