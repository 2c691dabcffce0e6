"""Desired versus live, on the fields the operator owns.

The API server adds defaults and other controllers add fields (a Service's
clusterIP, a Deployment's status), so "differs" means: a field we set has
another value live, or a field we set last time is no longer wanted. What we
set last time travels on the child in an annotation, as `kubectl apply` does,
so that removing an optional setting removes it from the child too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from modelship.core.names import LAST_APPLIED_ANNOTATION
from modelship.core.objects import Manifest


def with_last_applied(desired: Manifest) -> dict[str, Any]:
    """The desired object, carrying its own content as the last-applied annotation."""
    obj = json.loads(json.dumps(desired))
    annotations = obj["metadata"].setdefault("annotations", {})
    annotations.pop(LAST_APPLIED_ANNOTATION, None)
    annotations[LAST_APPLIED_ANNOTATION] = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return dict(obj)


def last_applied(live: Manifest) -> dict[str, Any]:
    raw = live.get("metadata", {}).get("annotations", {}).get(LAST_APPLIED_ANNOTATION)
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def owned_patch(desired: Manifest, live: Manifest) -> dict[str, Any] | None:
    """A JSON merge patch that brings our fields of `live` to `desired`; None when none differ."""
    patch = _merge_patch(desired, live, last_applied(live))
    return patch or None


def _merge_patch(desired: Manifest, live: Manifest, previous: Manifest) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    for key, want in desired.items():
        have = live.get(key)
        if isinstance(want, Mapping) and isinstance(have, Mapping):
            before = previous.get(key)
            sub = _merge_patch(want, have, before if isinstance(before, Mapping) else {})
            if sub:
                patch[key] = sub
        elif not contains(have, want):
            patch[key] = want
    for key in previous:
        if key not in desired and key in live:
            patch[key] = None  # we set it before and no longer want it
    return patch


def contains(live: Any, desired: Any) -> bool:
    """Whether `live` has every field of `desired` (it may have more: server defaults)."""
    if live is None and isinstance(desired, Mapping | list) and not desired:
        return True  # the API server drops empty lists and maps it would not keep
    if isinstance(desired, Mapping):
        return isinstance(live, Mapping) and all(
            contains(live.get(key), value) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(live) == len(desired)
            and all(contains(have, want) for have, want in zip(live, desired, strict=True))
        )
    if isinstance(live, bool) or isinstance(desired, bool):
        return live is desired  # True == 1 in Python, not in Kubernetes
    return bool(live == desired) or same_quantity(live, desired)


_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|[numkMGTPE]i?)?$")
_SUFFIXES = {
    "": Decimal(1),
    **{s: Decimal(10) ** e for s, e in (("n", -9), ("u", -6), ("m", -3), ("k", 3), ("M", 6))},
    **{s: Decimal(10) ** e for s, e in (("G", 9), ("T", 12), ("P", 15), ("E", 18))},
    **{f"{s}i": Decimal(2) ** (10 * (i + 1)) for i, s in enumerate("KMGTPE")},
}


def same_quantity(live: Any, desired: Any) -> bool:
    """Whether two resource quantities are the same amount: the API server rewrites them
    canonically (0.5 becomes 500m, 4 becomes "4"), which must not read as a difference."""
    amounts = [_amount(value) for value in (live, desired)]
    return amounts[0] is not None and amounts[0] == amounts[1]


def _amount(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    match = _QUANTITY.match(str(value))
    if match is None:
        return None
    number, suffix = match.groups()
    try:
        if suffix and suffix[0] in "eE":
            return Decimal(number + suffix)
        return Decimal(number) * _SUFFIXES[suffix or ""]
    except (InvalidOperation, KeyError):
        return None


def status_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """A merge patch from our old status to the new one: keys we dropped become null, at
    any depth, since a merge patch merges objects key by key (status.drift.since gone must
    be sent as null); a list is replaced whole."""
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        before = old.get(key)
        if before == value:
            continue
        if isinstance(before, Mapping) and isinstance(value, Mapping):
            patch[key] = status_patch(before, value)
        else:
            patch[key] = value
    return patch
