"""The `modelship` command.

Each subcommand lives in its own module and is imported only when it runs, so
that `modelship package` works where only the packaging extra is installed and
`modelship render` works without the operator's dependencies.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import click

from modelship import __version__


@dataclass(frozen=True)
class Subcommand:
    """Where a subcommand lives and which extra of the distribution it needs."""

    target: str  # "module:attribute" of a click command
    extra: str | None  # None: the base install is enough


SUBCOMMANDS: dict[str, Subcommand] = {
    "render": Subcommand("modelship.cli.render:render", None),
    "package": Subcommand("modelship.cli.package:package", "package"),
    "fetch": Subcommand("modelship.cli.fetch:fetch", "storage"),
    "configure": Subcommand("modelship.cli.configure:configure", "serve"),
    "serve": Subcommand("modelship.cli.serve:serve", "serve"),
    "score": Subcommand("modelship.cli.score:score", "package"),
    "evaluate": Subcommand("modelship.cli.evaluate:evaluate", "package"),
    "compare": Subcommand("modelship.cli.compare:compare", "serve"),
    "operator": Subcommand("modelship.cli.operator:run_operator", "operator"),
    "demo": Subcommand("modelship.cli.demo:demo", "serve"),
    "drift-watch": Subcommand("modelship.cli.drift_watch:drift_watch", "package"),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        subcommand = SUBCOMMANDS.get(cmd_name)
        if subcommand is None:
            return None
        module_name, attribute = subcommand.target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            # A partial install (say, the operator image) still lists and explains everything.
            return _needs_extra(cmd_name, subcommand.extra, error.name)
        command = getattr(module, attribute)
        assert isinstance(command, click.Command)
        return command


def _needs_extra(name: str, extra: str | None, missing: str | None) -> click.Command:
    install = f"pip install 'modelship[{extra}]'" if extra else "reinstall modelship"
    message = f"`modelship {name}` needs the module {missing!r}, which is not installed: {install}"

    def fail() -> None:
        raise click.UsageError(message)

    return click.Command(
        name,
        callback=fail,
        help=message,
        short_help=f"(not installed: {install})",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="modelship")
def main() -> None:
    """Take a trained model from a notebook to production on NVIDIA Triton."""
