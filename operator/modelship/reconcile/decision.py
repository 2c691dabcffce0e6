"""What a decide function returns, for every kind."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modelship.core.objects import Action, Event


@dataclass(frozen=True)
class Decision:
    actions: tuple[Action, ...]
    status: dict[str, Any]  # the whole status, as the operator writes it
    status_patch: dict[str, Any]  # empty when the status stays as it is
    events: tuple[Event, ...] = field(default=())
    # When the decision would change by itself with nothing observed changing (a canary
    # pause ending): the handler reconciles again then. None: only a change reconciles.
    wake_at: datetime | None = None
