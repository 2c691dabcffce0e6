"""hack/kind-up.sh stops at once, saying what is missing, where docker or kind is not there.

It cannot create a cluster on machines without a Docker engine, so what is checked is
that it fails early and clearly (and before touching anything) in each such case.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "hack" / "kind-up.sh"


def fake(directory: Path, name: str, exit_code: int) -> None:
    command = directory / name
    command.write_text(f"#!/bin/sh\nexit {exit_code}\n")
    command.chmod(0o755)


@pytest.mark.parametrize(
    ("present", "message"),
    [
        ({}, "kind-up: docker is not installed"),
        ({"docker": 0}, "kind-up: kind is not installed"),
        ({"docker": 1, "kind": 0}, "kind-up: the Docker engine is not running"),
    ],
)
def test_fails_clearly_without_docker_or_kind(
    tmp_path: Path, present: dict[str, int], message: str
) -> None:
    for name, exit_code in present.items():
        fake(tmp_path, name, exit_code)
    # Only the shell's own tools and the fakes: no real docker, kind, helm or kubectl.
    os.symlink(shutil.which("dirname") or "/usr/bin/dirname", tmp_path / "dirname")
    result = subprocess.run(
        ["/bin/bash", str(SCRIPT)],
        env={"PATH": str(tmp_path), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(message), result.stderr
