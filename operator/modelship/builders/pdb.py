"""PodDisruptionBudget over every serving pod of a deployment."""

from __future__ import annotations

from typing import Any

from modelship.api.model_deployment import ModelDeployment
from modelship.builders import defaults, labels
from modelship.builders.owner import child_meta
from modelship.core import names


def build_pdb(md: ModelDeployment) -> dict[str, Any]:
    """`<deployment>`: node drains take at most one serving pod at a time.

    It spans all revisions, so a canary and its stable share the budget.
    """
    name = md.metadata.name
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": child_meta(md, name, labels.deployment_labels(name, names.DISRUPTION_BUDGET)),
        "spec": {
            "maxUnavailable": defaults.PDB_MAX_UNAVAILABLE,
            "selector": {"matchLabels": labels.server_selector(name)},
        },
    }
