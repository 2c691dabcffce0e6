"""A small cooperative cluster for the Canary strategy through decide: it applies each
decision's actions (every Deployment it creates runs its pods, ready unless told otherwise),
Triton's counters are given per revision as the handler would scrape them, finished
prediction gate Jobs as gather would read them, and time moves by hand."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from modelship.api.model_deployment_status import RequestCounters
from modelship.core.objects import Create, Delete, Patch
from modelship.reconcile.model_deployment import Decision, Observed, decide
from modelship.reconcile.rollout import GateRun

from support.merge_patch import merged
from support.reconcile_states import NOW, as_live


def counters(success: float, failure: float = 0, latency_ms: float = 5) -> RequestCounters:
    return RequestCounters(
        success=success,
        failure=failure,
        request_duration_us=success * latency_ms * 1000,
        queue_duration_us=success * 100,
    )


@dataclasses.dataclass
class Cluster:
    """The ModelDeployment and its children as a cooperative API server keeps them."""

    md: dict[str, Any]
    children: dict[tuple[str, str], dict[str, Any]] = dataclasses.field(default_factory=dict)
    now: datetime = NOW
    metrics: dict[str, RequestCounters] = dataclasses.field(default_factory=dict)
    unready: set[str] = dataclasses.field(default_factory=set)  # Deployments with no ready pod
    gate_runs: dict[str, GateRun] = dataclasses.field(default_factory=dict)  # by Job name

    def observed(self) -> Observed:
        return Observed(
            body=self.md,
            children=list(self.children.values()),
            now=self.now,
            metrics=self.metrics,
            gate_runs=self.gate_runs,
        )

    def reconcile(self) -> Decision:
        decision = decide(self.observed())
        for action in decision.actions:
            if isinstance(action, Create):
                self.children[(action.ref.kind, action.ref.name)] = as_live(dict(action.manifest))
            elif isinstance(action, Patch):
                key = (action.ref.kind, action.ref.name)
                self.children[key] = merged(self.children[key], action.patch)
            elif isinstance(action, Delete):
                del self.children[(action.ref.kind, action.ref.name)]
        self.md = {**self.md, "status": decision.status}
        self.settle()
        return decision

    def settle(self) -> None:
        """Each Deployment runs the pods it asks for, all ready unless listed unready."""
        for (kind, name), child in self.children.items():
            if kind == "Deployment":
                replicas = child["spec"].get("replicas", 1)
                up = 0 if name in self.unready else replicas
                child["status"] = {
                    "observedGeneration": child["metadata"]["generation"],
                    "replicas": replicas,
                    "updatedReplicas": replicas,
                    "readyReplicas": up,
                    "availableReplicas": up,
                }

    def later(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def serve(self, stable: RequestCounters, canary: RequestCounters) -> None:
        status = self.md["status"]
        self.metrics = {status["stable"]["name"]: stable, status["canary"]["name"]: canary}

    def deployments(self) -> dict[str, int]:
        return {
            name: child["spec"]["replicas"]
            for (kind, name), child in self.children.items()
            if kind == "Deployment"
        }

    def stable_service_selects_canary(self) -> bool:
        selector = self.children[("Service", "wine")]["spec"]["selector"]
        return "modelship.dev/revision" not in selector


def assert_resumes(before: Observed, decision: Decision) -> None:
    """An operator restarted with ``decision``'s status written decides the same again:
    nothing to patch, no event repeated, the same wake time."""
    restarted = decide(dataclasses.replace(before, body={**before.body, "status": decision.status}))
    assert restarted.status == decision.status
    assert restarted.status_patch == {}
    assert restarted.events == ()
    assert restarted.wake_at == decision.wake_at


def condition(decision: Decision, type_: str) -> tuple[str, str]:
    found = next(c for c in decision.status["conditions"] if c["type"] == type_)
    return found["status"], found["reason"]


def message(decision: Decision, type_: str) -> str:
    return str(next(c for c in decision.status["conditions"] if c["type"] == type_)["message"])


def canary(decision: Decision) -> dict[str, Any]:
    return dict(decision.status["canary"])
