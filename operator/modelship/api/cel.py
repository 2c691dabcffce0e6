"""Cross-field rules of API types, each declared once for the CRD and for Python.

A rule lives beside the type it checks (`rules` on the class; for a rule on one
field's value, `cel_rules` in its schema and `checked` as its validator). It ends up in
the CRD as an `x-kubernetes-validations` entry, so the API server refuses bad
input at `kubectl apply`; and `ApiModel` checks the same rule's Python
predicate with the same message, so that `modelship render` and the operator
give the same answer offline. Tests evaluate both on the same cases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Rule:
    """One `x-kubernetes-validations` entry, and the same rule in Python."""

    rule: str
    message: str
    message_expression: str | None = None
    # Whether the rule holds for the typed object; None: CEL only (a field-level rule
    # whose Python twin is the field's own validator).
    holds: Callable[[Any], bool] | None = None
    # What Python adds to the message (the values at fault), which CEL cannot say cheaply.
    detail: Callable[[Any], str] | None = None

    def to_schema(self) -> dict[str, str]:
        entry = {"rule": self.rule, "message": self.message}
        if self.message_expression is not None:
            entry["messageExpression"] = self.message_expression
        return entry

    def broken_by(self, obj: Any) -> str | None:
        """The message when `obj` breaks the rule, else None."""
        if self.holds is None or self.holds(obj):
            return None
        return self.message + (self.detail(obj) if self.detail is not None else "")


def checked(*rules: Rule) -> Callable[[T], T]:
    """A field validator (pydantic's AfterValidator) for rules on a field's value: the
    value as it is, or ValueError with the messages of the rules it breaks."""

    def check(value: T) -> T:
        broken = [message for rule in rules if (message := rule.broken_by(value)) is not None]
        if broken:
            raise ValueError("; ".join(broken))
        return value

    return check


def cel_rules(*rules: Rule) -> dict[str, Any]:
    """The `json_schema_extra` that carries rules into the generated schema."""
    return {"x-kubernetes-validations": [rule.to_schema() for rule in rules]}


def add_rules(schema: dict[str, Any], model: type[Any]) -> None:
    """`json_schema_extra` of every API type: its `rules` as `x-kubernetes-validations`."""
    rules: tuple[Rule, ...] = getattr(model, "rules", ())
    if rules:
        schema["x-kubernetes-validations"] = [rule.to_schema() for rule in rules]


def broken_rules(obj: Any) -> list[str]:
    """The messages of the rules of `obj`'s type that it breaks, in declaration order."""
    rules: tuple[Rule, ...] = getattr(type(obj), "rules", ())
    return [message for rule in rules if (message := rule.broken_by(obj)) is not None]
