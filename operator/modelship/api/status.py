"""What every kind's status starts with: the spec generation acted on, and its conditions."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from modelship.api.base import ApiModel, list_map

# A status message of a sentence or two: what a check found, or why it did not run.
StatusMessage = Annotated[str, Field(max_length=1024)]


def command_field(annotation: str, values: str, **bounds: Any) -> Any:
    """The last value of a command ``annotation`` acted on; ``values`` says its forms."""
    return Field(
        default=None,
        description=(
            f"The last {annotation} annotation value acted on ({values}); "
            "the same value again is not a new command."
        ),
        **bounds,
    )


def conditions_field(which: str) -> Any:
    """status.conditions, one per type; ``which`` names the kind's own."""
    return Field(default_factory=list, description=which, json_schema_extra=list_map("type"))


class ObservedStatus(ApiModel):
    """The fields a kind's status opens with; it adds conditions_field and its own."""

    observed_generation: int | None = Field(
        default=None, description="The spec generation the operator last acted on."
    )
