"""A JSON merge patch (RFC 7386) applied, as the API server applies one: what the tests'
stand-ins for the API server do with the operator's patches."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any


def merged(target: Any, patch: Any) -> Any:
    """`target` with `patch` merged in: null removes a key, a mapping merges, else replaces."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merged(result.get(key), value)
    return result
