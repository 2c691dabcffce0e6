"""A decision that changes by itself at a known time makes Kopf reconcile again then."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import kopf
import pytest
from modelship.handlers import build_registry, executor, model_deployment
from modelship.handlers import runtime as runtime_module
from modelship.handlers.indexes import CHILD_RESOURCES, Indexes, child_index_id
from modelship.handlers.runtime import Runtime
from modelship.handlers.settings import OperatorSettings
from modelship.reconcile.decision import Decision

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
BODY = {
    "apiVersion": "modelship.dev/v1alpha1",
    "kind": "ModelDeployment",
    "metadata": {"name": "iris", "namespace": "ml", "uid": "u-1", "generation": 1},
    "spec": {},
}


class NoKube:
    """Fails the test on any API call: a decision with nothing to do must make none."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected API call: {name}")


def reconciler(wake_at: datetime | None) -> executor.KindReconciler[str]:
    async def gather(body: Mapping[str, Any], indexes: Any, runtime: Runtime) -> str:
        return "observed"

    def decide(observed: str) -> Decision:
        return Decision(actions=(), status={}, status_patch={}, wake_at=wake_at)

    return executor.KindReconciler(
        "ModelDeployment", gather, decide, by_uid=lambda found: found.model_deployments
    )


def run(wake_at: datetime | None) -> datetime | None:
    runtime = Runtime(kube=NoKube())  # type: ignore[arg-type]
    logger = logging.getLogger("test")
    return asyncio.run(
        reconciler(wake_at).reconcile(BODY, None, runtime, "test", logger)  # type: ignore[arg-type]
    )


def test_the_loop_hands_back_the_time_the_decision_changes_by_itself() -> None:
    wake_at = NOW + timedelta(minutes=5)
    assert run(wake_at) == wake_at


def test_a_decision_without_a_wake_time_asks_for_no_requeue() -> None:
    assert run(None) is None
    executor.requeue(None)  # raises nothing


def test_a_wake_time_becomes_a_kopf_retry_after_that_many_seconds() -> None:
    with pytest.raises(kopf.TemporaryError) as raised:
        executor.requeue(NOW + timedelta(seconds=90), now=NOW)
    assert raised.value.delay == 90


def test_a_wake_time_already_past_retries_after_a_moment_not_at_once() -> None:
    with pytest.raises(kopf.TemporaryError) as raised:
        executor.requeue(NOW - timedelta(minutes=1), now=NOW)
    assert raised.value.delay == executor.MIN_REQUEUE_DELAY


def test_the_kopf_handlers_requeue_on_the_wake_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The create handler of a kind, as Kopf calls it, raises the retry the decision asks for."""
    wake_at = datetime.now(UTC) + timedelta(minutes=10)

    async def reconcile(*_: Any) -> datetime:
        return wake_at

    monkeypatch.setattr(model_deployment, "reconcile", reconcile)
    registry = build_registry(OperatorSettings(metrics_port=0))
    handler = next(
        h for h in registry._changing.get_all_handlers() if h.id == "modeldeployments-create"
    )
    memo = kopf.Memo(runtime=None)
    with pytest.raises(kopf.TemporaryError) as raised:
        asyncio.run(
            handler.fn(
                body=BODY,
                memo=memo,
                logger=logging.getLogger("test"),
                reason="create",
                **_empty_indexes(),
            )
        )
    assert 590 <= raised.value.delay <= 600


def _empty_indexes() -> dict[str, Any]:
    ids = [child_index_id(plural) for _, _, plural in CHILD_RESOURCES]
    ids += [
        "modeldeployments_by_uid",
        "modeldeployments_by_name",
        "modeldeployments_by_retrain_job",
        "retrainjobs_by_uid",
        "retrainjobs_by_name",
        "jobs_by_retrain_job",
        "pods_by_model_deployment",
    ]
    return {index: {} for index in ids}


def _indexes_holding(body: Mapping[str, Any]) -> Indexes:
    found = {index: {} for index in _empty_indexes()}
    found["modeldeployments_by_uid"] = {body["metadata"]["uid"]: [body]}
    return Indexes.of(found)


def test_an_event_started_reconcile_is_woken_at_its_decision_time_with_the_newest_body(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Kopf requeues only its own handlers: after a child's event the runtime wakes the object."""
    monkeypatch.setattr(runtime_module, "MIN_WAKE_DELAY", 0.0)
    newest = BODY | {"metadata": BODY["metadata"] | {"generation": 2}}
    seen: list[tuple[int, str]] = []

    async def scenario() -> None:
        wakes = iter([datetime.now(UTC) + timedelta(seconds=0.05), None])

        async def gather(body: Mapping[str, Any], indexes: Any, runtime: Runtime) -> str:
            return "observed"

        def decide(observed: str) -> Decision:
            return Decision(actions=(), status={}, status_patch={}, wake_at=next(wakes))

        kind = executor.KindReconciler(
            "ModelDeployment", gather, decide, by_uid=lambda found: found.model_deployments
        )
        original = kind.reconcile

        async def recorded(body: Mapping[str, Any], *args: Any) -> datetime | None:
            seen.append((body["metadata"]["generation"], args[2]))
            return await original(body, *args)

        object.__setattr__(kind, "reconcile", recorded)
        runtime = Runtime(kube=NoKube())  # type: ignore[arg-type]
        logger = logging.getLogger("test")
        await kind.reconcile_on_event(BODY, _indexes_holding(newest), runtime, "child", logger)
        await asyncio.sleep(0.3)
        assert not runtime.wakes, "no wake is left once the decision asks for none"

    asyncio.run(scenario())
    assert seen == [(1, "child"), (2, "wake")]


def test_an_earlier_wake_replaces_a_later_one_and_forgetting_the_object_cancels_it() -> None:
    async def scenario() -> list[str]:
        runtime = Runtime(kube=NoKube())  # type: ignore[arg-type]
        fired: list[str] = []

        def waking(label: str) -> Any:
            async def reconcile() -> None:
                fired.append(label)

            return reconcile

        soon = datetime.now(UTC) + timedelta(seconds=1.1)
        runtime.wake("u-1", soon + timedelta(minutes=5), waking("late"))
        runtime.wake("u-1", soon, waking("early"))
        runtime.wake("u-1", soon + timedelta(minutes=1), waking("later again"))
        runtime.wake("u-2", soon, waking("forgotten"))
        runtime.forget("u-2")
        await asyncio.sleep(1.5)
        return fired

    assert asyncio.run(scenario()) == ["early"]
