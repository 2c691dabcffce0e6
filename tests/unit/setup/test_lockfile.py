"""uv.lock is what hack/setup.sh (so `make test`, `make demo` and CI) and the images
install, so it must match pyproject.toml, name only real PyPI releases, and every place
that installs from it must use the same uv and extras that exist."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
DOCKERFILES = [REPO / "operator" / "Dockerfile", REPO / "serving" / "Dockerfile"]


def find_uv() -> str:
    local = REPO / ".tools" / "uv" / "bin" / "uv"
    found = str(local) if local.is_file() else shutil.which("uv")
    if found is None:
        message = "uv is not installed: run hack/setup.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def lock() -> dict[str, Any]:
    return tomllib.loads((REPO / "uv.lock").read_text())


def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_lock_matches_pyproject() -> None:
    result = subprocess.run(
        [find_uv(), "lock", "--check", "--offline"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, f"{result.stderr.strip()} (run `make lock`)"


def test_lock_names_only_pypi_releases() -> None:
    # This project's machines also see local wheel folders; a user's machine sees PyPI.
    elsewhere = [
        package["name"]
        for package in lock()["package"]
        if package["name"] != "modelship"
        and package["source"] != {"registry": "https://pypi.org/simple"}
    ]
    assert elsewhere == []


def test_lock_keeps_torch_out() -> None:
    assert "torch" not in {package["name"] for package in lock()["package"]}


def test_setup_and_images_use_the_same_uv() -> None:
    install_uv = (REPO / "hack" / "install-uv.sh").read_text()
    (setup_version,) = re.findall(r"^uv_version=(\S+)$", install_uv, re.M)
    for dockerfile in DOCKERFILES:
        assert re.findall(r"uv==(\S+)", dockerfile.read_text()) == [setup_version], dockerfile


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.parent.name)
def test_images_sync_the_lock_with_existing_extras(dockerfile: Path) -> None:
    text = dockerfile.read_text().replace("\\\n", " ")
    syncs = re.findall(r"uv sync ([^\n]*)", text)
    assert syncs, f"{dockerfile} does not install from uv.lock"
    extras = set(pyproject()["project"]["optional-dependencies"])
    for sync in syncs:
        assert "--locked" in sync
        assert set(re.findall(r"--extra (\S+)", sync)) <= extras
    # The old way, pip resolving afresh at build time, is gone.
    assert not re.search(r"pip install [\"']?\.", text)
