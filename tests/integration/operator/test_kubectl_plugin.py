"""`kubectl modelship` against the emulated API server: each command sets the rollout
annotation the operator acts on, and `status` shows a canary's steps and analyses.

Most tests run no operator: the plugin's half of the contract is the annotation it
writes and the status it reads. The last one runs the real operator: a paused canary
holds its step past its pause, and promote finishes the rollout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lightkube import Client, KubeConfig
from modelship.cli.kubectl_plugin import main
from support.argocd_sandbox import evaluate, health_check
from support.emulator import EmulatorThread
from support.harness import EmulatedCluster, emulated_crds, kubeconfig
from support.scenarios import (
    MD_API,
    Obj,
    create,
    deployments,
    get,
    model_deployment,
    new_revision,
    patch,
    ready_model_deployment,
    retrain_job,
    wait_for,
)

NS = "ml"
CANARY = {
    "strategy": "Canary",
    "canary": {"steps": [{"weight": 10, "pause": "5m"}, {"weight": 50, "pause": "0s"}]},
}


class Plugin:
    """The plugin run as kubectl runs it, with $KUBECONFIG naming the emulator."""

    def __init__(self, client: Client, config_path: Path) -> None:
        self.client, self.config_path = client, config_path

    def __call__(self, *args: str) -> tuple[int, str]:
        env = {"KUBECONFIG": str(self.config_path)}
        result = CliRunner().invoke(main, list(args), env=env)
        return result.exit_code, result.output

    def annotation(self, name: str) -> str | None:
        found = get(self, MD_API, "ModelDeployment", NS, name)
        assert found is not None
        return found["metadata"].get("annotations", {}).get("rollout.modelship.dev/command")


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[Plugin]:
    with EmulatorThread(emulated_crds()) as server:
        config = kubeconfig(server.url)
        config["contexts"][0]["context"]["namespace"] = NS
        path = tmp_path / "kubeconfig"
        path.write_text(json.dumps(config))
        yield Plugin(Client(KubeConfig.from_dict(config)), path)


@pytest.mark.parametrize("action", ["pause", "resume", "promote", "abort", "retry"])
def test_each_command_sets_the_rollout_annotation_with_a_fresh_nonce(
    plugin: Plugin, action: str
) -> None:
    create(plugin, model_deployment("wine", NS, rollout=CANARY))
    code, output = plugin(action, "mdep/wine", "-n", NS)
    assert code == 0, output
    first = plugin.annotation("wine")
    assert first is not None
    assert first.startswith(f"{action}/")
    assert first in output

    code, _ = plugin(action, "modeldeployment/wine")  # the context's namespace
    assert code == 0
    again = plugin.annotation("wine")
    assert again is not None
    assert again.startswith(f"{action}/")
    assert again != first
    spec = get(plugin, MD_API, "ModelDeployment", NS, "wine")
    assert spec is not None
    assert spec["metadata"]["generation"] == 1


def test_a_missing_model_deployment_or_wrong_kind_is_a_one_line_error(plugin: Plugin) -> None:
    code, output = plugin("pause", "mdep/nowhere", "-n", NS)
    assert code == 1
    assert "nowhere" in output
    assert len(output.strip().splitlines()) == 1
    code, output = plugin("status", "deployment/wine")
    assert code == 2
    assert "write mdep/NAME" in output


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_approve_and_reject_set_the_retrain_annotation_of_a_retrain_job(
    plugin: Plugin, action: str
) -> None:
    create(plugin, retrain_job("retrain", NS))
    code, output = plugin(action, "rtj/retrain", "-n", NS)
    assert code == 0, output
    found = get(plugin, MD_API, "RetrainJob", NS, "retrain")
    assert found is not None
    value = found["metadata"]["annotations"]["retrain.modelship.dev/command"]
    assert value.startswith(f"{action}/")
    assert value in output
    code, output = plugin(action, "mdep/retrain")
    assert code == 2
    assert "write rtj/NAME" in output


def test_status_shows_the_steps_the_weight_and_the_latest_analyses(plugin: Plugin) -> None:
    create(plugin, model_deployment("wine", NS, rollout=CANARY))
    analysis = "canary 300 requests, 0.00% failed, latency 4.10 ms, queue 0.10 ms"
    status: Obj = {
        "stable": {"name": "wine-1a", "version": "1", "uri": "s3://models/wine/1"},
        "canary": {
            "name": "wine-2b",
            "version": "2",
            "uri": "s3://models/wine/2",
            "replicas": 1,
            "readyReplicas": 1,
            "weight": 50,
            "step": 1,
            "paused": True,
            "analyses": [
                {
                    "at": "2026-01-02T03:10:00Z",
                    "step": 1,
                    "outcome": "Inconclusive",
                    "message": "canary served 12 requests, fewer than the 100 needed to judge",
                },
                {"at": "2026-01-02T03:05:00Z", "step": 0, "outcome": "Passed", "message": analysis},
            ],
        },
        "rolloutCommand": "pause/abc",
    }
    patch(plugin, MD_API, "ModelDeployment", NS, "wine", {"status": status}, True)

    code, output = plugin("status", "mdep/wine")
    assert code == 0, output
    lines = output.splitlines()
    assert "Stable: wine-1a (version 1)" in lines
    assert any(
        line.startswith("Canary: wine-2b (version 2), 50% of traffic") and "paused" in line
        for line in lines
    )
    assert "Last command: pause/abc" in lines
    steps = lines[lines.index(next(x for x in lines if x.startswith("STEP"))) + 1 :][:2]
    assert [line.split()[:3] for line in steps] == [["1", "10%", "5m"], ["2", "50%", "0s"]]
    assert steps[0].endswith("done")
    assert "current" in steps[1]
    header = next(i for i, line in enumerate(lines) if line.startswith("AT"))
    assert lines[header + 1].split()[1:3] == ["2", "Inconclusive"]
    assert lines[header + 2].split()[1:3] == ["1", "Passed"]
    assert analysis in lines[header + 2]


def test_status_of_a_model_deployment_with_no_canary(plugin: Plugin) -> None:
    create(plugin, model_deployment("plain", NS))
    code, output = plugin("status", "plain", "-n", NS)
    assert code == 0, output
    assert "Strategy: Recreate" in output
    assert "Canary: none" in output


def test_the_operator_holds_a_paused_canary_and_promote_finishes_it(
    cluster: EmulatedCluster,
) -> None:
    steps = [{"weight": 20, "pause": "2s"}, {"weight": 50, "pause": "2s"}]
    rollout = {"strategy": "Canary", "canary": {"steps": steps}}
    ready_model_deployment(cluster, NS, "wine", serving={"replicas": 2}, rollout=rollout)
    plugin = Plugin(cluster.client, cluster.operator.kubeconfig)
    (stable,) = deployments(cluster, NS, "wine")
    new_model = {"model": {"version": "2", "uri": "s3://models/wine/2"}}
    patch(cluster, MD_API, "ModelDeployment", NS, "wine", {"spec": new_model})
    canary = new_revision(cluster, NS, "wine", stable["metadata"]["name"])

    def canary_status() -> Obj:
        md = get(cluster, MD_API, "ModelDeployment", NS, "wine") or {}
        return dict((md.get("status") or {}).get("canary") or {})

    assert plugin("pause", "mdep/wine", "-n", NS)[0] == 0
    wait_for("the canary to be paused", lambda: canary_status().get("paused"))
    cluster.make_available(canary)
    wait_for("the first step's weight", lambda: canary_status().get("weight") == 20)
    time.sleep(5)  # more than the step's 2s pause, with resyncs every second
    held = canary_status()
    assert (held["step"], held["weight"], held["paused"]) == (0, 20, True)
    assert "paused" in plugin("status", "mdep/wine", "-n", NS)[1]
    paused = get(cluster, MD_API, "ModelDeployment", NS, "wine")
    health = evaluate(health_check("ModelDeployment"), paused, "ModelDeployment/health.lua")
    assert health.status == "Suspended", "Argo CD shows a paused canary as Suspended"
    assert "paused by a rollout command" in health.message

    assert plugin("promote", "mdep/wine", "-n", NS)[0] == 0

    def promoting() -> Obj | None:
        found = [
            d
            for d in deployments(cluster, NS, "wine")
            if d["metadata"]["name"] == canary["metadata"]["name"]
        ]
        return found[0] if found and found[0]["spec"]["replicas"] == 2 else None

    cluster.make_available(wait_for("the canary scaled to stable's size", promoting))
    md = wait_for(
        "the canary to take over",
        lambda: (
            (found := get(cluster, MD_API, "ModelDeployment", NS, "wine"))
            and found["status"]["stable"]["version"] == "2"
            and found
        ),
    )
    assert "canary" not in md["status"]
    assert md["status"]["rolloutCommand"].startswith("promote/")


HISTORY = [
    {"revision": "wine-3c", "version": "3", "uri": "s3://models/wine/3", "outcome": "Serving",
     "deployedAt": "2026-01-03T00:00:00Z"},
    {"revision": "wine-2b", "version": "2", "uri": "s3://models/wine/2", "sha256": "b" * 64,
     "outcome": "Superseded", "deployedAt": "2026-01-02T00:00:00Z",
     "lineage": {"dataVersion": "v2", "codeRef": "abc1", "parameters": {}}},
    {"revision": "wine-1a", "version": "1", "uri": "s3://models/wine/1", "outcome": "Superseded",
     "deployedAt": "2026-01-01T00:00:00Z"},
]  # fmt: skip


def with_history(plugin: Plugin, **metadata: Any) -> None:
    body = model_deployment("wine", NS, version="3")
    body["metadata"] |= metadata
    create(plugin, body)
    patch(plugin, MD_API, "ModelDeployment", NS, "wine", {"status": {"history": HISTORY}}, True)


def test_history_numbers_the_revisions_and_rollback_sets_the_model_back(plugin: Plugin) -> None:
    with_history(plugin)
    code, output = plugin("history", "mdep/wine", "-n", NS)
    assert code == 0, output
    assert output.splitlines() == [
        "N  REVISION  VERSION  OUTCOME     DEPLOYED              LINEAGE",
        "1  wine-1a   1        Superseded  2026-01-01T00:00:00Z  -",
        "2  wine-2b   2        Superseded  2026-01-02T00:00:00Z  data=v2, code=abc1",
        "3  wine-3c   3        Serving     2026-01-03T00:00:00Z  -",
    ]
    code, output = plugin("rollback", "mdep/wine", "--to-revision", "2", "-n", NS)
    assert code == 0, output
    model = (get(plugin, MD_API, "ModelDeployment", NS, "wine") or {})["spec"]["model"]
    assert (model["version"], model["uri"], model["sha256"]) == (
        "2",
        "s3://models/wine/2",
        "b" * 64,
    )
    assert model["lineage"] == {"dataVersion": "v2", "codeRef": "abc1", "parameters": {}}
    code, output = plugin("rollback", "mdep/wine", "--to-revision", "wine-1a", "-n", NS)
    assert code == 0, output
    model = (get(plugin, MD_API, "ModelDeployment", NS, "wine") or {})["spec"]["model"]
    assert (model["version"], "sha256" in model, "lineage" in model) == ("1", False, False)
    code, output = plugin("rollback", "mdep/wine", "--to-revision", "9", "-n", NS)
    assert (code, "see kubectl modelship history" in output) == (1, True)


def test_under_gitops_rollback_prints_the_change_to_commit(plugin: Plugin) -> None:
    with_history(plugin, annotations={"argocd.argoproj.io/tracking-id": "ml:modelship.dev/x"})
    code, output = plugin("rollback", "mdep/wine", "--to-revision", "1", "-n", NS)
    assert code == 0, output
    assert "commit this change to spec.model" in output
    assert '"version": "1"' in output
    model = (get(plugin, MD_API, "ModelDeployment", NS, "wine") or {})["spec"]["model"]
    assert model["version"] == "3"
