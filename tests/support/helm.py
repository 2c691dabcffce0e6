"""The helm binary the chart tests render with."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / ".tools" / "bin"


def find_helm(binary: str = "helm") -> str:
    """The path of a helm binary (`helm` is Helm 4, `helm3` Helm 3): the checkout's own from
    hack/install-helm.sh first; a missing one fails under CI and skips, saying why, elsewhere."""
    local = TOOLS / binary
    found = str(local) if local.is_file() else shutil.which(binary)
    if found is None:
        message = f"{binary} is not installed: run hack/install-helm.sh (hack/setup.sh does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found
