"""The `kubectl-modelship` script on a base install (no lightkube) says what to install."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from modelship.cli.kubectl import main


def test_without_the_operator_extra_the_plugin_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [m for m in sys.modules if m.startswith("modelship.cli.kubectl_plugin")]:
        monkeypatch.delitem(sys.modules, name)
    for name in [m for m in sys.modules if m == "lightkube" or m.startswith("lightkube.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "lightkube", None)
    monkeypatch.delitem(sys.modules, "modelship.kube.client", raising=False)
    with pytest.raises(SystemExit) as exited:
        main()
    assert str(exited.value) == (
        "kubectl modelship needs lightkube, which it does not find: "
        "pip install 'modelship[operator]'"
    )


def test_with_it_the_plugin_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["kubectl-modelship", "--help"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 0


@pytest.mark.parametrize("command", [["status", "mdep/wine"], ["pause", "mdep/wine"]])
def test_without_a_kubeconfig_the_plugin_says_what_to_set_in_one_line(
    command: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from modelship.cli.kubectl_plugin import main as plugin

    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    result = CliRunner().invoke(plugin, command)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: no cluster to talk to (Configuration file {tmp_path / 'missing'} not found):"
        " set KUBECONFIG to your kubeconfig file, as for kubectl\n"
    )
