"""Helm 3 and Helm 4 render the chart identically, so what the other chart tests check of
Helm 4's rendering holds for Helm 3 users too (lint and the refusal of bad values run
with both versions themselves)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.mark.parametrize("binary", ["helm", "helm3"])
def test_both_major_versions_are_installed(binary: str, helm_versions: dict[str, str]) -> None:
    expected_major = {"helm": "v4.", "helm3": "v3."}[binary]
    assert helm_versions[binary].startswith(expected_major)


def test_helm_3_renders_what_helm_4_renders(
    helm_template_in: Any, value_sets: dict[str, Any], value_set: str, tmp_path: Path
) -> None:
    helm_4 = helm_template_in("helm", value_sets[value_set], tmp_path / "4")
    helm_3 = helm_template_in("helm3", value_sets[value_set], tmp_path / "3")
    assert helm_3.objects == helm_4.objects
