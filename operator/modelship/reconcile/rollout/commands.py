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
from typing import Any, Final

ROLLOUT_ANNOTATION: Final = "rollout.modelship.dev/command"


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


def command_of(annotations: Mapping[str, Any] | None) -> Command | None:
    """The command the annotation carries; None when there is none or it is not one."""
    value = (annotations or {}).get(ROLLOUT_ANNOTATION)
    if not isinstance(value, str):
        return None
    action, _, nonce = value.partition("/")
    if action not in Action.__members__.values():
        return None
    return Command(Action(action), nonce)


def new_command(annotations: Mapping[str, Any] | None, handled: str | None) -> Command | None:
    """The annotation's command unless it is the one last acted on."""
    command = command_of(annotations)
    return None if command is None or command.value == handled else command
