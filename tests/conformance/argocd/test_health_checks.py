"""The shipped Argo CD health checks, run as Argo CD runs a script from argocd-cm.

Cases are laid out as Argo CD's own (resource_customizations/<group>/<kind>/health_test.yaml
naming testdata/*.yaml), over hand-written statuses shaped by the operator's status models:
one or more for every reason the operator writes. tests/integration/operator/
test_argocd_health.py runs the same checks on statuses the real operator wrote.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from lupa import lua51
from modelship.api.model_deployment import ModelDeployment
from modelship.api.retrain_job import RetrainJob
from modelship.reconcile import reasons
from support.argocd_sandbox import KINDS, Health, evaluate, health_check

CASES_DIR = Path(__file__).parent / "modelship.dev"
API = {"ModelDeployment": ModelDeployment, "RetrainJob": RetrainJob}

# Every reason the operator writes on a condition, and the health it must map to when it is
# the reason of Ready (or, for a ModelDeployment, of Degraded=True).
READY_REASONS = {
    "ModelDeployment": {
        reasons.SERVING: "Healthy",
        reasons.ROLLING_OUT: "Progressing",
        reasons.WAITING_FOR_REPLICAS: "Progressing",
        reasons.ROLLOUT_FAILED: "Degraded",
        reasons.INVALID_SPEC: "Degraded",
        reasons.MODEL_UNRESOLVED: "Degraded",
        reasons.NAME_CONFLICT: "Degraded",
        reasons.CHILD_REJECTED: "Degraded",
        reasons.SECRET_NOT_FOUND: "Degraded",
        reasons.IMAGE_PULL_FAILED: "Degraded",
        reasons.MODEL_FETCH_FAILED: "Degraded",
        reasons.CANARY_FAILED: "Degraded",
        reasons.CONFIGURE_FAILED: "Degraded",
        # The sampleEvery sidecar exiting; the mirrored watch's pod says so in Drifted only.
        reasons.DRIFT_WATCH_FAILED: "Degraded",
    },
    "RetrainJob": {
        reasons.WAITING_FOR_RUN: "Healthy",
        reasons.SCHEDULED: "Healthy",
        reasons.RUN_SUCCEEDED: "Healthy",
        reasons.SUSPENDED: "Healthy",
        reasons.RUN_FAILED: "Degraded",
        reasons.INVALID_SPEC: "Degraded",
        # A candidate judged is news, not trouble: the RetrainJob works (a person may approve).
        reasons.AWAITING_APPROVAL: "Healthy",
        reasons.CANDIDATE_PROMOTED: "Healthy",
        reasons.CANDIDATE_REJECTED: "Healthy",
        # What it promoted was rolled back by a follower's canary: someone should look.
        reasons.ROLLED_BACK: "Degraded",
    },
}
# Reasons only of other conditions, of Events, and condition types: no case needs them as
# Ready's reason.
OTHER_NAMES = {
    reasons.READY,
    reasons.AVAILABLE,
    reasons.PROGRESSING,
    reasons.DEGRADED,
    # Drifted (type and reasons) is informational: Argo CD health ignores it (a case shows).
    reasons.DRIFTED,
    reasons.NO_DRIFT,
    reasons.AWAITING_DRIFT_CHECK,
    reasons.DRIFT_SUMMARY_UNREADABLE,
    reasons.MINIMUM_REPLICAS_AVAILABLE,
    reasons.NO_REPLICAS_AVAILABLE,
    reasons.ROLLOUT_COMPLETE,
    reasons.AS_EXPECTED,
    reasons.RUN_ACTIVE,
    reasons.CREATED,
    reasons.UPDATED,
    reasons.DELETED,
    reasons.REVISION_PROMOTED,
    reasons.BATCH_JOB_FAILED,
    reasons.ROLLED_BACK,
    reasons.ANALYSIS_FAILED,
    reasons.ROLLOUT_COMMAND,  # an Event's reason only
    # A canary's steps: Progressing's reasons while Ready stays True on the stable revision.
    reasons.CANARY_STEP,
    reasons.PAUSED,
    reasons.ANALYZING,
    reasons.PROMOTING,
    reasons.PREDICTION_GATE,
    # A RetrainJob's run being validated (Progressing's reason) and the Event of a drift run.
    reasons.VALIDATING,
    reasons.DRIFT_TRIGGERED,
}


def _cases() -> list[tuple[str, str, dict[str, Any], Health]]:
    found = []
    for kind in KINDS:
        listing = yaml.safe_load((CASES_DIR / kind / "health_test.yaml").read_text())
        for test in listing["tests"]:
            path = CASES_DIR / kind / test["inputPath"]
            expected = Health(test["healthStatus"]["status"], test["healthStatus"]["message"])
            found.append((kind, path.stem, _load(path), expected))
    return found


class _JsonLoader(yaml.SafeLoader):
    """YAML as JSON has it, the way Argo CD hands the object over: timestamps stay strings."""


_JsonLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(path.read_text(), Loader=_JsonLoader)
    return loaded


CASES = _cases()


@pytest.mark.parametrize(
    ("kind", "obj", "expected"),
    [pytest.param(kind, obj, expected, id=f"{kind}-{name}") for kind, name, obj, expected in CASES],
)
def test_health(kind: str, obj: dict[str, Any], expected: Health) -> None:
    assert evaluate(health_check(kind), obj, f"{kind}/health.lua") == expected


@pytest.mark.parametrize(
    ("kind", "obj"),
    [pytest.param(kind, obj, id=f"{kind}-{name}") for kind, name, obj, _ in CASES],
)
def test_cases_are_shaped_like_the_api(kind: str, obj: dict[str, Any]) -> None:
    """A hand-written status the operator's own models refuse would test nothing real."""
    API[kind].model_validate(obj)


def test_every_reason_the_operator_writes_has_a_case() -> None:
    written = {
        value for name, value in vars(reasons).items() if name.isupper() and isinstance(value, str)
    }
    known = OTHER_NAMES | set(READY_REASONS["ModelDeployment"]) | set(READY_REASONS["RetrainJob"])
    assert written <= known, f"classify the new reasons here and add cases: {written - known}"
    for kind, wanted in READY_REASONS.items():
        covered = {
            (_reason_of(obj), expected.status)
            for case_kind, _, obj, expected in CASES
            if case_kind == kind
        }
        missing = {item for item in wanted.items() if item not in covered}
        assert not missing, f"{kind}: no case for (reason, health) {sorted(missing)}"


def _reason_of(obj: dict[str, Any]) -> str | None:
    """What decides: Degraded=True's reason, else Ready's."""
    conditions = {c["type"]: c for c in (obj.get("status") or {}).get("conditions", [])}
    degraded = conditions.get("Degraded", {})
    if degraded.get("status") == "True":
        return str(degraded["reason"])
    return conditions.get("Ready", {}).get("reason")


def test_every_degraded_message_names_the_reason() -> None:
    for kind, name, obj, expected in CASES:
        if expected.status == "Degraded":
            assert expected.message.startswith(f"{_reason_of(obj)}: "), f"{kind}/{name}"


# --- the sandbox itself: it must refuse what Argo CD's refuses -----------------------------


@pytest.mark.parametrize(
    "script",
    [
        'return {status = ("Healthy"):lower()}',  # no string metatable
        'return {status = string.format("%s", "Healthy")}',
        "return {status = math.floor(1)}",
        'return {status = io.read("*a")}',
        'os.execute("true") return {status = "Healthy"}',
        'debug.traceback() return {status = "Healthy"}',
    ],
)
def test_sandbox_lacks_what_argo_cd_does_not_open(script: str) -> None:
    with pytest.raises(lua51.LuaError):
        evaluate(script, {})


def test_sandbox_has_what_argo_cd_opens() -> None:
    script = """
    local parts = {}
    for _, item in ipairs(obj.items) do table.insert(parts, tostring(item)) end
    return {status = "Healthy", message = table.concat(parts, ",") .. " " .. type(os.time())
      .. " " .. obj.metadata.generation}
    """
    obj = {"items": ["a", 2], "metadata": {"generation": 7}}
    assert evaluate(script, obj) == Health("Healthy", "a,2 number 7")


def test_an_unknown_health_code_is_refused() -> None:
    with pytest.raises(AssertionError, match="Unknown"):
        evaluate('return {status = "Fine"}', {})
