"""The `kubectl-modelship` console script: the plugin, or what to install for it.

The plugin talks to the API server through the operator's client (lightkube), which the
base install does not carry; without it the script says which extra to install.
"""

from __future__ import annotations


def main() -> None:
    try:
        from modelship.cli.kubectl_plugin import main as plugin
    except ModuleNotFoundError as error:
        raise SystemExit(
            f"kubectl modelship needs {error.name}, which it does not find: "
            "pip install 'modelship[operator]'"
        ) from error
    plugin()
