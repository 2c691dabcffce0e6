"""The operator's packages stand on each other in floors; no floor imports one above it.

core (shared Kubernetes vocabulary) and api (the custom resources' types) are the
ground; builders stand on them; reconcile (pure decisions) on builders; kube (the
API client) on core alone; handlers (Kopf wiring) and cli on everything. One
kind's decide or handler never imports another kind's: what both need goes to a
shared module. docs/architecture.md explains the floors.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[3] / "operator" / "modelship"

# What each package may import from modelship, besides itself.
MAY_IMPORT: dict[str, set[str]] = {
    "core": set(),
    "api": {"core"},
    "builders": {"core", "api"},
    "reconcile": {"core", "api", "builders"},
    "kube": {"core"},
    "handlers": {"core", "api", "builders", "reconcile", "kube"},
    "cli": {"core", "api", "builders", "reconcile", "kube", "handlers"},
}
# Modules of one kind that must not import the other kind's (shared code goes elsewhere).
KINDS = ("model_deployment", "retrain_job")


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        yield ".".join(("modelship", *parts)).removesuffix(".__init__"), path


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


MODULES = list(_modules())


def test_every_package_is_placed_on_a_floor() -> None:
    packages = {name.split(".")[1] for name, _ in MODULES if name.count(".") >= 1}
    top_level_modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert packages - top_level_modules <= set(MAY_IMPORT), "add the new package to MAY_IMPORT"


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[name for name, _ in MODULES])
def test_no_module_imports_a_floor_above_its_own(module: str, path: Path) -> None:
    parts = module.split(".")
    if len(parts) < 3:
        return  # modelship/__init__.py and top-level modules
    package = parts[1]
    allowed = MAY_IMPORT[package] | {package}
    wrong = sorted(
        imported
        for imported in set(_imports(path))
        if imported.startswith("modelship.") and imported.split(".")[1] not in allowed
    )
    assert not wrong, f"{module} ({package}) may import only {sorted(allowed)}, not {wrong}"


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[name for name, _ in MODULES])
def test_no_kind_imports_another_kinds_module(module: str, path: Path) -> None:
    parts = module.split(".")
    if len(parts) < 3 or parts[-1] not in KINDS:
        return
    others = [f"modelship.{parts[1]}.{kind}" for kind in KINDS if kind != parts[-1]]
    wrong = sorted(
        imported
        for imported in set(_imports(path))
        if any(imported == other or imported.startswith(f"{other}.") for other in others)
    )
    assert not wrong, f"{module} imports {wrong}: move what both kinds need to a shared module"


def test_the_check_catches_an_upward_import(tmp_path: Path) -> None:
    """The walk sees imports anywhere in a module, TYPE_CHECKING blocks included."""
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from modelship.reconcile.parsing import lenient\n"
        "import modelship.handlers.runtime\n"
    )
    found = set(_imports(module))
    assert {"modelship.reconcile.parsing", "modelship.handlers.runtime"} <= found
