"""A person's command to a rollout, read from the ModelDeployment's annotation.

`rollout.modelship.dev/command: <command>/<nonce>` (for example `promote/3f9a1c2b`) asks
the canary to pause, resume, promote now, abort or retry. The nonce makes a command
seen once: the status records the last value acted on, and the same value again is
not a new command; a command with nothing to act on (resume when not paused) is used up.

Why an annotation: it is metadata, not spec, so it does not change the generation, and
Argo CD leaves it alone. Its default diff is three-way against the
kubectl last-applied-configuration annotation, so a field Git never set is neither shown
as OutOfSync nor removed by a sync; with server-side apply or server-side diff the field
belongs to its own field manager (kubectl-modelship), which Argo CD's apply does not
take over. Why not under `modelship.dev/`: Kopf, which keeps its own state in
annotations under that prefix, leaves every annotation with that prefix out of the
changes it reacts to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, TypeVar

ROLLOUT_ANNOTATION: Final = "rollout.modelship.dev/command"

A = TypeVar("A", bound=StrEnum)


class Action(StrEnum):
    PAUSE = "pause"  # hold the current step until resumed (analysis goes on)
    RESUME = "resume"  # walk the steps again
    PROMOTE = "promote"  # skip the remaining steps: scale up and take over
    ABORT = "abort"  # roll the canary back now
    RETRY = "retry"  # a rolled-back revision tries again, from the first step


@dataclass(frozen=True)
class Command:
    action: Action
    nonce: str

    @property
    def value(self) -> str:
        """The annotation's value that carries this command."""
        return f"{self.action}/{self.nonce}"


def annotated(annotations: Mapping[str, Any] | None, key: str, actions: type[A]) -> A | None:
    """The action of the `<action>/<nonce>` value under `key`; None when it is not one.

    Every kind that takes a person's command through an annotation reads it here (the
    RetrainJob's approve and reject too).
    """
    value = (annotations or {}).get(key)
    if not isinstance(value, str):
        return None
    action = value.partition("/")[0]
    return actions(action) if action in actions.__members__.values() else None


def command_of(annotations: Mapping[str, Any] | None) -> Command | None:
    """The command the annotation carries; None when there is none or it is not one."""
    action = annotated(annotations, ROLLOUT_ANNOTATION, Action)
    if action is None:
        return None
    return Command(action, str((annotations or {})[ROLLOUT_ANNOTATION]).partition("/")[2])


def new_annotated(
    annotations: Mapping[str, Any] | None, key: str, actions: type[A], handled: str | None
) -> tuple[A, str] | None:
    """(action, the whole value) under `key` unless that value is the one last acted on."""
    value = (annotations or {}).get(key)
    action = annotated(annotations, key, actions)
    return None if action is None or value == handled else (action, str(value))


def new_command(annotations: Mapping[str, Any] | None, handled: str | None) -> Command | None:
    """The annotation's command unless it is the one last acted on."""
    command = command_of(annotations)
    return None if command is None or command.value == handled else command
