"""The `modelship` command.

Each subcommand lives in its own module and is imported only when it runs, so
that `modelship package` works where only the packaging extra is installed and
`modelship render` works without the operator's dependencies.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

from modelship import __version__

# name -> "module:attribute" of a click command
SUBCOMMANDS: dict[str, str] = {
    "render": "modelship.cli.render:render",
    "package": "modelship.cli.package:package",
    "fetch": "modelship.cli.fetch:fetch",
    "configure": "modelship.cli.configure:configure",
    "serve": "modelship.cli.serve:serve",
    "score": "modelship.cli.score:score",
    "operator": "modelship.cli.operator:run_operator",
    "demo": "modelship.cli.demo:demo",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in SUBCOMMANDS if _available(name))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command


def _available(name: str) -> bool:
    module_name = SUBCOMMANDS[name].split(":")[0]
    return importlib.util.find_spec(module_name) is not None


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="modelship")
def main() -> None:
    """Take a trained model from a notebook to production on NVIDIA Triton."""
