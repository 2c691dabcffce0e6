"""Two operator replicas with the chart's peering: one acts, the other stands by, then takes over.

Both run with the rendered args and meet in the ClusterKopfPeering the chart's hook
creates. Kopf's peering is no lock: around a replica's start both may act for a moment.
So the second replica starts once the first acts; whichever drew the higher priority
acts from then on, the other handles nothing, and when the acting replica stops the
standby resumes and reconciles what comes next.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support.chart_harness import ChartInstall, ChartStartedOperator, installed
from support.scenarios import create, deployments, model_deployment, wait_for


def handled(replica: ChartStartedOperator, name: str) -> bool:
    """Whether the replica's log shows it handling the ModelDeployment."""
    return f'"kind": "ModelDeployment", "name": "{name}"' in replica.log.read_text()


def peers(install: ChartInstall) -> dict[str, Any]:
    """Identity -> keep-alive of every replica in the peering object."""
    (peering,) = install.cluster.objects("clusterkopfpeerings")
    return dict(peering.get("status") or {})


def test_one_replica_acts_and_the_other_takes_over(tmp_path: Path) -> None:
    values = {"replicaCount": 2, "peering": {"enabled": True}, "operator": {"resyncInterval": 1}}
    with installed(values, tmp_path, start=False) as install:
        cluster, (first, second) = install.cluster, install.replicas
        first.start()
        create(cluster, model_deployment("wine", "ml"))
        wait_for("the first replica to act", lambda: handled(first, "wine"))
        (first_id,) = peers(install)

        second.start()
        both = wait_for("both replicas in the peering", lambda: len(peers(install)) == 2 or None)
        assert both
        priorities = {identity: peer["priority"] for identity, peer in peers(install).items()}
        second_wins = max(priorities, key=priorities.__getitem__) != first_id
        if second_wins:
            pausing = "Pausing operations in favour of"
            wait_for("the first replica to stand by", lambda: pausing in first.log.read_text())
        acting, standby = (second, first) if second_wins else (first, second)

        create(cluster, model_deployment("beer", "ml"))
        wait_for("the acting replica", lambda: deployments(cluster, "ml", "beer"))
        wait_for("its log of it", lambda: handled(acting, "beer"))
        assert not handled(standby, "beer")

        acting.stop()
        create(cluster, model_deployment("ale", "ml"))
        # A stopping replica leaves the peering on its way out; should that write be lost,
        # the standby waits out the keep-alive lifetime (60 s) instead.
        takeover = lambda: deployments(cluster, "ml", "ale")  # noqa: E731
        wait_for("the standby to take over", takeover, timeout=90)
        wait_for("its log of it", lambda: handled(standby, "ale"))
        assert len(cluster.objects("deployments")) == 3
