"""CEL validation rules attached to API types.

Rules live beside the type they check and end up in the CRD as
`x-kubernetes-validations`, so the API server refuses bad input at
`kubectl apply`. Each type also checks the same rule in Python (a pydantic
validator), so that `modelship render` gives the same answer offline; tests
evaluate both on the same cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rule:
    """One `x-kubernetes-validations` entry."""

    rule: str
    message: str
    message_expression: str | None = None

    def to_schema(self) -> dict[str, str]:
        entry = {"rule": self.rule, "message": self.message}
        if self.message_expression is not None:
            entry["messageExpression"] = self.message_expression
        return entry


def cel_rules(*rules: Rule) -> dict[str, Any]:
    """The `json_schema_extra` that carries rules into the generated schema."""
    return {"x-kubernetes-validations": [rule.to_schema() for rule in rules]}
