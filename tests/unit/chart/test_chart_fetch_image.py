"""The operator learns the image of its fetch init containers from MODELSHIP_FETCH_IMAGE:
its own image, exactly as the chart pins it, so that a model's credentials Secret is handed
to modelship's own code rather than to whatever serving image a user names
(docs/threat-model.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

DIGEST = "sha256:" + "cd" * 32


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ({}, "ghcr.io/modelship/operator:0.1.0"),
        ({"tag": "0.1.0-rc1"}, "ghcr.io/modelship/operator:0.1.0-rc1"),
        (
            {"repository": "registry.example.com/mirror/operator", "tag": "x", "digest": DIGEST},
            f"registry.example.com/mirror/operator@{DIGEST}",
        ),
    ],
)
def test_fetch_image_is_the_operators_own(
    template_with_any_helm: Callable[..., Any], image: dict[str, str], expected: str
) -> None:
    (container,) = template_with_any_helm({"image": image}).one("Deployment")["spec"]["template"][
        "spec"
    ]["containers"]
    env = {entry["name"]: entry for entry in container["env"]}
    assert env["MODELSHIP_FETCH_IMAGE"] == {"name": "MODELSHIP_FETCH_IMAGE", "value": expected}
    assert container["image"] == expected
