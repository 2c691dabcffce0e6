"""promtool from Debian's `prometheus` package (hack/install-prometheus.sh), or a skip saying so."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

INSTALL_HINT = "promtool is not installed: run hack/install-prometheus.sh (hack/test.sh does)"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip(INSTALL_HINT)
    return found


def run_promtool(*args: str, stdin: str | None = None, cwd: Path | None = None) -> str:
    """Run promtool; fail the test with its output when it refuses."""
    result = subprocess.run(
        [promtool(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"promtool {' '.join(args)} failed:\n{output}"
    return output
