"""The API server's CEL environment and structural defaulting, replayed offline with
cel-python: shared by the checks of our own CRDs and of the upstream ones."""

from __future__ import annotations

import copy
import functools
import itertools
from collections.abc import Callable, Mapping
from typing import Any

import celpy
from celpy import celtypes

Schema = dict[str, Any]

# CEL reserved words: a property of that name is `__<word>__` in a rule
# (k8s.io/apiserver/pkg/cel/escaping.go).
CEL_RESERVED = frozenset(
    {"true", "false", "null", "in", "as", "break", "const", "continue", "else", "for"}
    | {"function", "if", "import", "let", "loop", "package", "namespace", "return", "var"}
    | {"void", "while"}
)


def _is_sorted(values: celtypes.ListType) -> celtypes.BoolType:
    """Kubernetes' `<list>.isSorted()` (k8s.io/apiserver/pkg/cel/library/lists.go).

    cel-python lacks the Kubernetes list library. There, isSorted is true when
    every element is <= the next (so equal neighbours are allowed), true for
    empty and one-element lists, and an error for elements that do not compare.
    """
    for left, right in itertools.pairwise(values):
        if type(left) is not type(right):
            raise TypeError(f"isSorted: cannot compare {type(left)} with {type(right)}")
        if left > right:
            return celtypes.BoolType(False)
    return celtypes.BoolType(True)


KUBERNETES_CEL_FUNCTIONS: Mapping[str, Callable[..., Any]] = {"isSorted": _is_sorted}


@functools.cache
def _program(expression: str) -> celpy.Runner:
    environment = celpy.Environment()
    return environment.program(environment.compile(expression), functions=KUBERNETES_CEL_FUNCTIONS)


def evaluate(expression: str, activation: Mapping[str, Any]) -> Any:
    """The value of a CEL expression; raises when it cannot be evaluated."""
    result = _program(expression).evaluate(dict(activation))
    if isinstance(result, celpy.CELEvalError):
        raise result
    return result


def apply_defaults(schema: Schema, value: Any) -> Any:
    """Structural defaulting: a missing property with a default gets it, then its own."""
    if isinstance(value, dict):
        result = dict(value)
        properties = schema.get("properties", {})
        for name, child in properties.items():
            if name not in result and "default" in child:
                result[name] = copy.deepcopy(child["default"])
        for name, child in properties.items():
            if name in result:
                result[name] = apply_defaults(child, result[name])
        if isinstance(extra := schema.get("additionalProperties"), dict):
            result = {key: apply_defaults(extra, item) for key, item in result.items()}
        return result
    if isinstance(value, list) and "items" in schema:
        return [apply_defaults(schema["items"], item) for item in value]
    return value
