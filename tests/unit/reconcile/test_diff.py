"""Desired vs live compares only the fields the operator sets; it removes what it set before."""

from __future__ import annotations

from typing import Any

import pytest
from modelship.core.merge import contains, owned_patch, status_patch, with_last_applied
from modelship.core.names import LAST_APPLIED_ANNOTATION
from modelship.core.ownership import is_controlled_by
from support.merge_patch import merged


def service(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "wine", "namespace": "ml", "labels": {"a": "1"}},
        "spec": {"ports": [{"name": "http", "port": 8000}], **spec},
    }


def live(desired: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """`desired` as the API server keeps it: defaults added, then `changes` to spec."""
    obj = with_last_applied(desired)
    obj["metadata"] |= {"uid": "u", "resourceVersion": "7"}
    obj["spec"] = {**obj["spec"], "clusterIP": "10.0.0.1", **changes}
    obj["spec"]["ports"] = [{**port, "protocol": "TCP"} for port in obj["spec"]["ports"]]
    return obj


@pytest.mark.parametrize(
    ("previous", "desired", "edit", "expected"),
    [
        pytest.param(service(), service(), {}, None, id="server defaults are not differences"),
        pytest.param(
            service(),
            service(),
            {"ports": [{"name": "http", "port": 9000, "protocol": "TCP"}]},
            {"spec": {"ports": [{"name": "http", "port": 8000}]}},
            id="a hand edit of a list item restores the whole list",
        ),
        pytest.param(
            service(),
            service(selector={"app": "wine"}),
            {},
            {"spec": {"selector": {"app": "wine"}}},
            id="a new field is added",
        ),
        pytest.param(
            service(selector={"app": "wine"}),
            service(),
            {},
            {"spec": {"selector": None}},
            id="a field we set before and no longer want is removed",
        ),
    ],
)
def test_owned_patch(
    previous: dict[str, Any],
    desired: dict[str, Any],
    edit: dict[str, Any],
    expected: dict[str, Any] | None,
) -> None:
    want = with_last_applied(desired)
    patch = owned_patch(want, live(previous, **edit))
    if patch is not None:  # the annotation follows the content; compare the rest whole
        patch.get("metadata", {}).get("annotations", {}).pop(LAST_APPLIED_ANNOTATION, None)
        for key in [k for k, v in patch.items() if v == {"annotations": {}}]:
            del patch[key]
    assert (patch or None) == expected


def test_last_applied_annotation_holds_the_object_without_itself() -> None:
    want = with_last_applied(service())
    assert want["metadata"]["annotations"] == {
        LAST_APPLIED_ANNOTATION: '{"apiVersion":"v1","kind":"Service","metadata":{"annotations":{},'
        '"labels":{"a":"1"},"name":"wine","namespace":"ml"},"spec":{"ports":[{"name":"http",'
        '"port":8000}]}}'
    }


@pytest.mark.parametrize(
    ("refs", "expected"),
    [
        ([{"uid": "me", "controller": True}], True),
        ([{"uid": "me", "controller": False}], False),
        ([{"uid": "someone", "controller": True}], False),
        ([], False),
    ],
)
def test_only_objects_naming_us_as_controller_are_ours(
    refs: list[dict[str, Any]], expected: bool
) -> None:
    assert is_controlled_by({"metadata": {"ownerReferences": refs}}, "me") is expected


@pytest.mark.parametrize(
    ("live", "desired", "same"),
    [
        ("500m", "0.5", True),
        ("4", 4, True),
        ("1073741824", "1Gi", True),
        ("1G", "1000M", True),
        ("2Gi", "1Gi", False),
        ("100m", "1", False),
        ("http", "http", True),
        (None, [], True),
        (None, {}, True),
        ("http", "grpc", False),
        (True, 1, False),
    ],
)
def test_what_the_api_server_rewrites_or_drops_is_not_a_difference(
    live: Any, desired: Any, same: bool
) -> None:
    assert contains({"cpu": live}, {"cpu": desired}) is same


def test_a_status_patch_removes_a_nested_key_the_new_status_drops() -> None:
    """A merge patch merges objects key by key: a dropped nested key must be sent as null."""
    old = {"drift": {"drifted": True, "since": "t0", "consecutive": 2}, "stable": {"name": "a"}}
    new = {"drift": {"drifted": False, "consecutive": 0}, "stable": {"name": "a"}}
    patch = status_patch(old, new)
    assert patch == {"drift": {"drifted": False, "since": None, "consecutive": 0}}
    assert merged(old, patch) == new
