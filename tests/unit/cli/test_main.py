"""The `modelship` command lists every subcommand, and where an extra is not installed
(the operator image has no packaging libraries, a data scientist's laptop no Kopf) it
still lists it and says which extra to install instead of failing with a traceback."""

from __future__ import annotations

import importlib
import re
from types import ModuleType

import pytest
from click.testing import CliRunner
from modelship.cli import SUBCOMMANDS, main


def test_help_lists_every_subcommand() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    listed = result.output.split("Commands:")[1]
    assert [line.split()[0] for line in listed.strip().splitlines()] == sorted(SUBCOMMANDS)


def test_every_subcommand_imports_in_the_full_install() -> None:
    for name in SUBCOMMANDS:
        command = main.get_command(None, name)  # type: ignore[arg-type]
        assert command is not None
        assert "not installed" not in (command.short_help or ""), name


@pytest.fixture
def without_kopf(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = importlib.import_module

    def import_module(name: str, package: str | None = None) -> ModuleType:
        if name == "modelship.cli.operator":
            raise ModuleNotFoundError("No module named 'kopf'", name="kopf")
        return real_import(name, package)

    monkeypatch.setattr(importlib, "import_module", import_module)


@pytest.mark.usefixtures("without_kopf")
def test_a_missing_extra_is_named_in_help_and_on_use() -> None:
    runner = CliRunner()

    listing = runner.invoke(main, ["--help"])
    assert listing.exit_code == 0, listing.output
    # Columns as wide as the longest subcommand name.
    assert re.search(
        r"operator +\(not installed: pip install 'modelship\[operator\]'\)", listing.output
    )

    run = runner.invoke(main, ["operator", "--namespace", "ml"])
    assert run.exit_code == 2
    assert (
        "`modelship operator` needs the module 'kopf', which is not installed: "
        "pip install 'modelship[operator]'" in run.output
    )
    assert "Traceback" not in run.output
