"""`modelship render`: print the objects the operator would create, offline.

A GitOps user reviews them in a pull request before anything reaches the
cluster. Invalid input gives one line per problem, naming the field path, and
exit code 2; nothing is printed to stdout then.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import click
import pydantic
import yaml

from modelship.api import ModelDeployment, RetrainJob
from modelship.api.common import (
    ObjectMeta,
)
from modelship.api.retrain_job import TrainerResult
from modelship.builders import (
    BuildError,
    build_model_deployment_children,
    build_retrain_job_children,
    model_from_result,
    resolve_model,
    steady_plan,
)
from modelship.cli.field_problems import field_problems

EXIT_INVALID = 2
# Deeper than any manifest needs (a spec is about ten levels deep) and shallow enough that
# reading it never meets Python's recursion limit: PyYAML composes nodes recursively.
MAX_YAML_DEPTH = 100
# Far more values than any manifest holds: aliases (*a) share one node, so a few lines can
# stand for billions of values, which printing or checking them would write out one by one.
MAX_YAML_VALUES = 1_000_000
_KINDS: dict[str, type[ModelDeployment] | type[RetrainJob]] = {
    "ModelDeployment": ModelDeployment,
    "RetrainJob": RetrainJob,
}
# How a document that is no object reads, by what YAML made of it.
_YAML_TYPES: dict[type, str] = {list: "list", str: "string", int: "number", float: "number"}


class InvalidInputError(Exception):
    """The input cannot be rendered; each problem is one line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class _Inputs:
    deployments: list[tuple[str, ModelDeployment]] = field(default_factory=list)
    retrain_jobs: list[tuple[str, RetrainJob]] = field(default_factory=list)


@click.command(
    help=(
        "Print, as a YAML stream, every object the operator would create for the "
        "ModelDeployment and RetrainJob manifests in FILE ('-' reads stdin). Objects "
        "carry no ownerReferences: their owner's uid exists only in a cluster."
    )
)
@click.option(
    "-f",
    "--filename",
    "files",
    multiple=True,
    required=True,
    type=click.File("r"),
    help="Manifest file (repeatable).",
)
@click.option(
    "--retrain-result",
    "retrain_results",
    multiple=True,
    metavar="RETRAINJOB=FILE",
    help=(
        "For model.fromRetrainJob: the promoted result of RETRAINJOB, as the JSON "
        "(or YAML) its trainer writes (version, uri, sha256). A RetrainJob in FILE "
        "with status.promoted needs none."
    ),
)
def render(files: tuple[TextIO, ...], retrain_results: tuple[str, ...]) -> None:
    try:
        inputs = _load(files)
        objects = _render(inputs, _parse_results(retrain_results))
    except InvalidInputError as error:
        for problem in error.problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(yaml.dump_all(objects, Dumper=_Dumper, sort_keys=False), nl=False)


class _Loader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice in one mapping, as kubectl does; PyYAML
    would keep the last one silently, so the review would show something kubectl refuses."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    problem=f"key {key!r} is given twice", problem_mark=key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        """Refuse nesting deeper than MAX_YAML_DEPTH, as a YAML error naming its line,
        instead of crashing with a RecursionError."""
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    problem=f"nested deeper than {MAX_YAML_DEPTH} levels",
                    problem_mark=self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


# kubectl reads YAML with go-yaml, which keeps an unquoted date (version: 2024-11-18) as the
# string written; PyYAML would make it a date that no string field accepts.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Dumper(yaml.SafeDumper):
    """Plain YAML: no &anchors, even where two objects share a sub-dict."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _load(files: Iterable[Any]) -> _Inputs:
    inputs = _Inputs()
    problems: list[str] = []
    for stream in files:
        source = stream.name
        try:
            documents = [doc for doc in yaml.load_all(stream, _Loader) if doc is not None]
        except yaml.YAMLError as error:
            problems.append(f"{source}: not valid YAML: {_yaml_problem(error)}")
            continue
        if not documents:  # an empty file or stream would otherwise print nothing, exit 0
            problems.append(f"{source}: holds no object: give a ModelDeployment or RetrainJob")
            continue
        for number, document in enumerate(documents, start=1):
            if (values := _expanded_values(document, {})) > MAX_YAML_VALUES:
                problems.append(
                    f"{source}: document {number} stands for {values:.2g} values through YAML"
                    f" aliases, more than {MAX_YAML_VALUES:,}: write it without the aliases"
                )
                continue
            if not isinstance(document, dict):
                problems.append(
                    f"{source}: document {number} is a {_YAML_TYPES.get(type(document), 'value')},"
                    " not a mapping: give an object with apiVersion, kind, metadata and spec"
                )
                continue
            kind = document.get("kind")
            cls = _KINDS.get(kind) if isinstance(kind, str) else None
            if cls is None:
                problems.append(
                    f"{source}: document {number}: "
                    + ("no kind" if kind is None else f"kind {kind!r} is not rendered")
                    + " (expected ModelDeployment or RetrainJob)"
                )
                continue
            where = f"{source}: {kind}/{_name(document, number)}"
            try:
                parsed = _validated(cls, document)
            except TypeError as error:
                problems.append(f"{where}: {error}")
                continue
            except pydantic.ValidationError as error:
                problems.extend(f"{where}: {line}" for line in field_problems(error, document))
                continue
            if isinstance(parsed, ModelDeployment):
                inputs.deployments.append((where, parsed))
            else:
                inputs.retrain_jobs.append((where, parsed))
    if problems:
        raise InvalidInputError(problems)
    return inputs


def _expanded_values(node: Any, seen: dict[int, int]) -> int:
    """How many values a loaded document holds once its aliases are written out; each shared
    node is counted once and remembered, so a bomb is measured without being expanded."""
    if id(node) in seen:
        return seen[id(node)]
    children: Iterable[Any] = ()
    if isinstance(node, dict):
        children = [*node.keys(), *node.values()]
    elif isinstance(node, list):
        children = node
    total = 1 + sum(_expanded_values(child, seen) for child in children)
    seen[id(node)] = total
    return total


def _validated(
    cls: type[ModelDeployment] | type[RetrainJob], document: dict[str, Any]
) -> ModelDeployment | RetrainJob:
    """The document checked as the API server types JSON: strictly, so that replicas: "2"
    or gpu: "true" is refused here as `kubectl apply` refuses it, not read as 2 and True.

    The lax check comes first: it refuses unknown fields before anything is written out as
    JSON (an alias bomb under one would be expanded), and the strict one reads only the
    metadata fields the API types (the rest of metadata is the API server's).
    """
    parsed = cls.model_validate(document)
    metadata = document["metadata"]
    wire = document | {
        "metadata": {key: metadata[key] for key in ObjectMeta.model_fields if key in metadata}
    }
    try:
        text = json.dumps(wire)
    except TypeError as error:  # !!binary, !!set: kubectl cannot send them either
        raise TypeError(f"holds a value JSON cannot carry ({error})") from None
    cls.model_validate_json(text, strict=True)
    return parsed


def _render(inputs: _Inputs, results: dict[str, TrainerResult]) -> list[dict[str, Any]]:
    retrain_jobs = {rtj.metadata.name: rtj for _, rtj in inputs.retrain_jobs}
    objects: list[dict[str, Any]] = []
    problems: list[str] = []
    for where, md in inputs.deployments:
        wanted = md.spec.model.from_retrain_job
        try:
            if wanted is not None and wanted in results:
                model = model_from_result(md, results[wanted], retrain_jobs.get(wanted))
            else:
                model = resolve_model(md, retrain_jobs.get(wanted) if wanted else None)
        except BuildError as error:
            problems.append(
                f"{where}: spec.model.fromRetrainJob: {error}; cannot render offline "
                f"without --retrain-result {wanted}=FILE"
            )
            continue
        objects.extend(build_model_deployment_children(md, steady_plan(md, model)))
    for _, rtj in inputs.retrain_jobs:
        objects.extend(build_retrain_job_children(rtj))
    if problems:
        raise InvalidInputError(problems)
    return objects


def _parse_results(options: Iterable[str]) -> dict[str, TrainerResult]:
    results: dict[str, TrainerResult] = {}
    problems: list[str] = []
    for option in options:
        name, sep, path = option.partition("=")
        where = f"--retrain-result {option}"
        if not sep or not name or not path:
            problems.append(f"{where}: expected RETRAINJOB=FILE")
            continue
        try:
            document = yaml.load(Path(path).read_text(), _Loader)
            if not isinstance(document, dict):  # pydantic would speak of "TrainerResult"
                problems.append(
                    f"{where}: {path} holds no object: give the trainer's result JSON,"
                    ' {"version": ..., "uri": ..., "sha256": ...}'
                )
                continue
            results[name] = TrainerResult.model_validate(document)
        except OSError as error:
            problems.append(f"{where}: cannot read {path}: {error.strerror}")
        except yaml.YAMLError as error:
            problems.append(f"{where}: not valid JSON or YAML: {_yaml_problem(error)}")
        except pydantic.ValidationError as error:
            problems.extend(f"{where}: {line}" for line in field_problems(error, document))
    if problems:
        raise InvalidInputError(problems)
    return results


def _name(document: dict[str, Any], number: int) -> str:
    metadata = document.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else f"(document {number}, no name)"


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    return f"{problem} (line {mark.line + 1})" if mark is not None else str(problem)
