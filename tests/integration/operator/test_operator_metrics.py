"""The real operator's per-object readiness series in /metrics: they follow the status it
writes, and go with the object when it is deleted (no stale series)."""

from __future__ import annotations

import shutil
import subprocess

from support.harness import EmulatedCluster
from support.scenarios import (
    MD_API,
    create,
    delete,
    deployments,
    md_with,
    model_deployment,
    wait_for,
)

NS = "ml"
READY = 'modelship_resource_ready{kind="ModelDeployment",name="wine",namespace="ml"}'
WAITING = (
    'modelship_resource_condition{kind="ModelDeployment",name="wine",namespace="ml",'
    'reason="WaitingForReplicas",status="True",type="Progressing"} 1.0'
)


def test_readiness_series_follow_the_status_and_go_with_the_object(
    cluster: EmulatedCluster,
) -> None:
    scrape = cluster.operator.restart_with_metrics()

    def showing(*lines: str) -> str | None:
        text = scrape()
        return text if all(line in text for line in lines) else None

    create(cluster, model_deployment("wine", NS))
    wait_for("not ready while its pods start", lambda: showing(f"{READY} 0.0", WAITING))

    cluster.make_available(wait_for("the Deployment", lambda: deployments(cluster, NS, "wine"))[0])
    md_with(cluster, NS, "wine", "Ready", "True", "Serving")
    text = wait_for("ready once serving", lambda: showing(f"{READY} 1.0"))
    assert WAITING not in text, "the condition's old status left no series behind"
    if shutil.which("promtool"):  # the conformance layer skips, saying why, where it is absent
        lint = subprocess.run(
            ["promtool", "check", "metrics"], input=text, capture_output=True, text=True
        )
        assert lint.returncode == 0, lint.stdout + lint.stderr

    delete(cluster, MD_API, "ModelDeployment", NS, "wine")
    wait_for(
        "every series of the deleted ModelDeployment gone",
        lambda: (t := scrape()) is not None and 'name="wine"' not in t,
    )
