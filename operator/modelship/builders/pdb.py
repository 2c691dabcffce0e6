"""PodDisruptionBudget over every serving pod of a deployment."""

from __future__ import annotations

from typing import Any

from modelship.api.model_deployment import ModelDeployment
from modelship.builders import defaults, labels
from modelship.builders.deployment_wide import deployment_wide_child
from modelship.core import names


def build_pdb(md: ModelDeployment) -> dict[str, Any]:
    """`<deployment>`: node drains take at most one serving pod at a time.

    It spans all revisions, so a canary and its stable share the budget.
    """
    spec = {
        "maxUnavailable": defaults.PDB_MAX_UNAVAILABLE,
        "selector": {"matchLabels": labels.server_selector(md.metadata.name)},
    }
    return deployment_wide_child(
        md, "policy/v1", "PodDisruptionBudget", names.DISRUPTION_BUDGET, spec
    )
