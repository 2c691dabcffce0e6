"""Every `modelship` command line the builders put in a pod is one the real CLI accepts.

Proves, for the children of every sample in crds/samples/: each container whose
command is `modelship` (batch `score`, the `fetch` and `configure` init containers, the
`drift-watch` sidecar)
parses with the real click command, so a flag, choice or number the builder emits
that the CLI does not take fails here rather than in a CrashLoopBackOff; `score`'s
input and output name a table format. Parsing runs no command. The samples must
exercise score, fetch and configure, so the test cannot pass by finding nothing to
check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
from modelship.api import ModelDeployment
from modelship.builders import (
    build_model_deployment_children,
    build_retrain_job_children,
    resolve_model,
    steady_plan,
)
from modelship.cli import main
from modelship_serving.scoring.formats import table_format

SAMPLES = sorted((Path(__file__).resolve().parents[3] / "crds" / "samples").glob("*.yaml"))


def modelship_command_lines(sample: Path, sample_objects: Any) -> list[list[str]]:
    """command + args of every container running `modelship` in the sample's children."""
    lines = []
    for obj in sample_objects(sample):
        if not isinstance(obj, ModelDeployment):
            children = build_retrain_job_children(obj)
        elif obj.spec.model.from_retrain_job is not None:
            continue  # its model comes from a RetrainJob result; the other samples cover it
        else:
            children = build_model_deployment_children(obj, steady_plan(obj, resolve_model(obj)))
        for child in children:
            for pod in _pods(child):
                for container in pod.get("initContainers", []) + pod["containers"]:
                    if container.get("command") == ["modelship"]:
                        lines.append(container["command"] + container.get("args", []))
    return lines


def _pods(child: dict[str, Any]) -> list[dict[str, Any]]:
    spec = child.get("spec", {})
    if child["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return [spec["template"]["spec"]] if "template" in spec else []


def parse(line: list[str]) -> click.Context:
    """Parse a command line with the real CLI, as it would run, without running it."""
    group = click.Context(main, info_name="modelship")
    name, *rest = line[1:]  # the builders pass no options to the group itself
    command = main.get_command(group, name)
    assert command is not None, f"no subcommand {name!r}"
    # A missing extra would give a stand-in command that accepts anything.
    assert command.params, f"`modelship {name}` is not installed here"
    return command.make_context(name, rest, parent=group)


def test_samples_exercise_every_command_the_builders_emit(sample_objects: Any) -> None:
    seen = {
        line[1] for sample in SAMPLES for line in modelship_command_lines(sample, sample_objects)
    }
    assert seen == {"score", "fetch", "configure", "drift-watch"}


@pytest.mark.parametrize("sample", SAMPLES, ids=[path.name for path in SAMPLES])
def test_builder_command_lines_parse_with_the_real_cli(sample: Path, sample_objects: Any) -> None:
    for line in modelship_command_lines(sample, sample_objects):
        context = parse(line)
        assert context.command.name == line[1]
        if line[1] == "score":  # tables are named with a format; datasets end in '/'
            options = context.params
            if options["input_format"] is None and not options["input_uri"].endswith("/"):
                table_format(Path(options["input_uri"]))
            if not options["output_uri"].endswith("/"):
                table_format(Path(options["output_uri"]))


def test_a_flag_the_cli_does_not_take_is_caught() -> None:
    with pytest.raises(click.NoSuchOption):
        parse(["modelship", "score", "--model-repo", "/m", "--model", "m", "--input", "i",
               "--output", "o.csv", "--input-shape", "wide"])  # fmt: skip
