"""A child the API server refuses shows on the ModelDeployment, is not retried in a hot loop,
and does not take down the revision that serves.

The real ModelDeployment decide runs in the shared executor against a fake API that refuses
what a test says (as a 422 Invalid or an admission webhook's 403 reaches the client).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from modelship.core.objects import MAX_REFUSAL_MESSAGE, Ref
from modelship.handlers import executor, model_deployment
from modelship.handlers.runtime import FIRST_REFUSAL_BACKOFF, Runtime
from modelship.kube.errors import RejectedError
from modelship.reconcile.model_deployment import Observed, decide, parse
from support.merge_patch import merged

UID = "0b5c7a52-0000-4000-8000-000000000001"
INVALID = 'Deployment.apps "wine" is invalid: spec.template.spec.containers[0].args: Invalid value'


def md_body(
    version: str, generation: int, status: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "modelship.dev/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": "wine", "namespace": "ml", "uid": UID, "generation": generation},
        "spec": {"model": {"name": "wine", "version": version, "uri": f"s3://m/wine/{version}"}},
    }
    if status is not None:
        body["status"] = copy.deepcopy(dict(status))
    return body


class FakeKube:
    """An API server that keeps what it is given, and refuses what `refuse` names."""

    def __init__(self, refuse: Callable[[Mapping[str, Any]], str | None] = lambda _: None):
        self.refuse = refuse
        self.objects: dict[Ref, dict[str, Any]] = {}
        self.calls: list[str] = []
        self.status: dict[str, Any] = {}

    async def create(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        ref = Ref.of(manifest)
        self.calls.append(f"create {ref}")
        if (message := self.refuse(manifest)) is not None:
            raise RejectedError(f"{ref}: {message}", 422)
        live = copy.deepcopy(dict(manifest))
        live["metadata"]["uid"] = f"uid-{ref.name}"
        self.objects[ref] = live
        return live

    async def patch(self, ref: Ref, patch: Mapping[str, Any]) -> dict[str, Any]:
        self.calls.append(f"patch {ref}")
        return self.objects[ref]

    async def delete(self, ref: Ref) -> None:
        self.calls.append(f"delete {ref}")
        self.objects.pop(ref)

    async def patch_status(self, ref: Ref, patch: Mapping[str, Any]) -> dict[str, Any]:
        self.status = merged(self.status, patch)
        return {}


def serving(kube: FakeKube) -> None:
    """Every Deployment's pods are up, as the Deployment controller would report."""
    for obj in kube.objects.values():
        if obj["kind"] == "Deployment":
            obj["metadata"]["generation"] = 1
            obj["status"] = {
                "observedGeneration": 1,
                "replicas": 1,
                "updatedReplicas": 1,
                "readyReplicas": 1,
                "availableReplicas": 1,
                "conditions": [
                    {"type": "Available", "status": "True"},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
                ],
            }


def reconciler(kube: FakeKube) -> executor.KindReconciler[Observed]:
    async def gather(body: Mapping[str, Any], indexes: Any, runtime: Runtime) -> Observed:
        children = list(kube.objects.values())
        return Observed(body=body, children=children, now=executor.now(), spec=parse(body))

    real = model_deployment.RECONCILER
    return executor.KindReconciler(
        real.kind, gather, decide, real.with_conflicts, real.with_refusal, by_uid=real.by_uid
    )


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    posted: list[tuple[str, str, str]] = []

    def event(_: Any, *, type: str, reason: str, message: str) -> None:
        posted.append((type, reason, message))

    monkeypatch.setattr("modelship.handlers.runtime.kopf.event", event)
    return posted


def reconcile(kube: FakeKube, runtime: Runtime, body: Mapping[str, Any]) -> datetime | None:
    logger = logging.getLogger("test")
    return asyncio.run(reconciler(kube).reconcile(body, None, runtime, "test", logger))  # type: ignore[arg-type]


def condition(status: Mapping[str, Any], type: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == type)


def refuse_deployments(manifest: Mapping[str, Any]) -> str | None:
    return INVALID if manifest["kind"] == "Deployment" else None


def test_a_refused_child_on_create_shows_as_ready_false_with_the_servers_words(
    events: list[tuple[str, str, str]],
) -> None:
    kube = FakeKube(refuse_deployments)
    runtime = Runtime(kube=kube)  # type: ignore[arg-type]
    before = datetime.now(UTC)
    retry_at = reconcile(kube, runtime, md_body("1", generation=1))

    assert kube.status["observedGeneration"] == 1
    ready = condition(kube.status, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ChildRejected")
    assert INVALID in ready["message"]
    assert "Deployment ml/wine-" in ready["message"]
    assert condition(kube.status, "Degraded")["reason"] == "ChildRejected"
    assert ("Warning", "ChildRejected") in [(type, reason) for type, reason, _ in events]
    # Requeued after the back-off, not raised at once.
    assert retry_at is not None
    assert retry_at - before >= timedelta(seconds=FIRST_REFUSAL_BACKOFF - 1)


def test_a_refused_child_is_not_asked_again_before_its_back_off_ends(
    events: list[tuple[str, str, str]],
) -> None:
    kube = FakeKube(refuse_deployments)
    runtime = Runtime(kube=kube)  # type: ignore[arg-type]
    body = md_body("1", generation=1)
    first = reconcile(kube, runtime, body)
    writes = len(kube.calls)
    for _ in range(5):  # pod and child events keep coming
        assert reconcile(kube, runtime, body) == first
    assert len(kube.calls) == writes, "the refused spec was written again within its back-off"

    backoff = runtime.refusals[UID]
    runtime.refusals[UID] = dataclasses.replace(
        backoff, retry_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    second = reconcile(kube, runtime, body)
    assert len(kube.calls) > writes, "asked again once the back-off ended"
    assert runtime.refusals[UID].attempts == 2
    assert second is not None
    assert first is not None
    assert second - datetime.now(UTC) > timedelta(seconds=FIRST_REFUSAL_BACKOFF)  # doubled


def test_a_new_generation_is_written_at_once_despite_the_back_off(
    events: list[tuple[str, str, str]],
) -> None:
    kube = FakeKube(refuse_deployments)
    runtime = Runtime(kube=kube)  # type: ignore[arg-type]
    reconcile(kube, runtime, md_body("1", generation=1))
    kube.refuse = lambda _: None  # the user fixed the spec
    writes = len(kube.calls)
    assert reconcile(kube, runtime, md_body("1", generation=2)) is None
    assert any(call.startswith("create Deployment") for call in kube.calls[writes:])
    assert UID not in runtime.refusals
    assert kube.status["observedGeneration"] == 2


def test_a_refused_serving_change_keeps_the_old_revision_and_says_so(
    events: list[tuple[str, str, str]],
) -> None:
    kube = FakeKube()
    runtime = Runtime(kube=kube)  # type: ignore[arg-type]
    reconcile(kube, runtime, md_body("1", generation=1))
    serving(kube)
    reconcile(kube, runtime, md_body("1", generation=1, status=kube.status))
    assert condition(kube.status, "Ready")["status"] == "True"
    old = {ref for ref in kube.objects if ref.kind == "Deployment"}

    kube.refuse = refuse_deployments
    events.clear()
    reconcile(kube, runtime, md_body("2", generation=2, status=kube.status))

    assert {ref for ref in kube.objects if ref.kind == "Deployment"} == old
    assert not [call for call in kube.calls if call.startswith("delete")]
    assert kube.status["observedGeneration"] == 2
    ready = condition(kube.status, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "ChildRejected")
    assert "keeps serving" in ready["message"]
    assert condition(kube.status, "Available")["status"] == "True"
    assert condition(kube.status, "Degraded")["reason"] == "ChildRejected"
    assert [reason for type, reason, _ in events if type == "Warning"] == ["ChildRejected"]


def test_the_servers_message_is_bounded(events: list[tuple[str, str, str]]) -> None:
    kube = FakeKube(lambda m: "x" * 100_000 if m["kind"] == "Deployment" else None)
    runtime = Runtime(kube=kube)  # type: ignore[arg-type]
    reconcile(kube, runtime, md_body("1", generation=1))
    message = condition(kube.status, "Ready")["message"]
    assert "x" * MAX_REFUSAL_MESSAGE not in message
    assert "x" * 100 in message
    assert len(message) < MAX_REFUSAL_MESSAGE + 400


def test_a_kind_without_a_refusal_status_still_gets_a_warning_and_a_back_off(
    events: list[tuple[str, str, str]],
) -> None:
    """A kind whose decide takes no refusal back: the loop alone must not hide it."""
    kube = FakeKube(refuse_deployments)
    runtime = Runtime(kube=kube)  # type: ignore[arg-type]
    real = reconciler(kube)
    bare = executor.KindReconciler(real.kind, real.gather, decide, by_uid=real.by_uid)
    logger = logging.getLogger("test")
    body = md_body("1", generation=1)

    retry_at = asyncio.run(bare.reconcile(body, None, runtime, "test", logger))  # type: ignore[arg-type]

    assert retry_at is not None
    warnings = [(reason, message) for type, reason, message in events if type == "Warning"]
    assert [reason for reason, _ in warnings] == ["ChildRejected"]
    assert INVALID in warnings[0][1]
