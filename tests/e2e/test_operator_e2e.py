"""The operator scenarios against a real Kubernetes cluster (KUBECONFIG), where real
controllers make pods available and the garbage collector removes children.

Skipped, saying why, when no cluster is reachable. The scenarios are the very
functions the integration tests run against the emulated API server; only those
that need the emulator (injected faults, a spec the CRD refuses) are left out.
"""

from __future__ import annotations

import pytest
from support import scenarios

pytestmark = pytest.mark.cluster

SCENARIOS = [
    scenarios.create_gives_children_and_ready,
    scenarios.version_change_makes_new_revision,
    scenarios.scale_and_resources_patch_in_place,
    scenarios.hand_edits_are_repaired,
    scenarios.missing_secret_is_reported_from_the_pods,
    scenarios.model_from_retrain_job,
    scenarios.deletion_leaves_only_owned_children,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_scenario(cluster: scenarios.Cluster, namespace: str, scenario: scenarios.Scenario) -> None:
    scenario(cluster, namespace)
