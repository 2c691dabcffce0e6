"""`kubectl modelship`: steer a canary rollout and see where it is; approve a retrained model.

Installed with the package as the `kubectl-modelship` console script, which kubectl
finds on PATH as a plugin. A command sets the ModelDeployment's
`rollout.modelship.dev/command` annotation (or, for approve and reject, the RetrainJob's
`retrain.modelship.dev/command`) to `<command>/<nonce>` with a merge patch (the
operator acts on each value once); `status` prints the canary's steps, weights and
latest analyses. It talks to the API server through the operator's own client, with
the same kubeconfig resolution (in-cluster, $KUBECONFIG, ~/.kube/config).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click

from modelship.api.base import GROUP, VERSION
from modelship.api.model_deployment import KIND, PLURAL, ModelDeploymentStatus
from modelship.api.retrain_job import KIND as RETRAIN_KIND
from modelship.api.retrain_job import PLURAL as RETRAIN_PLURAL
from modelship.core.objects import Ref
from modelship.kube.client import Kube
from modelship.kube.errors import KubeError
from modelship.reconcile.parsing import lenient
from modelship.reconcile.promotion import RETRAIN_ANNOTATION, Approval
from modelship.reconcile.rollout.analysis import duration
from modelship.reconcile.rollout.commands import ROLLOUT_ANNOTATION, Action, Command

FIELD_MANAGER = "kubectl-modelship"
# How a ModelDeployment may be named on the command line: mdep/NAME, modeldeployment/NAME ...
KIND_NAMES = ("mdep", KIND.lower(), PLURAL, f"{PLURAL}.{GROUP}", f"{KIND.lower()}.{GROUP}")
RETRAIN_KIND_NAMES = (
    "rtj",
    RETRAIN_KIND.lower(),
    RETRAIN_PLURAL,
    f"{RETRAIN_PLURAL}.{GROUP}",
    f"{RETRAIN_KIND.lower()}.{GROUP}",
)

TARGET = click.argument("target", metavar="mdep/NAME")
NAMESPACE = click.option(
    "-n", "--namespace", default=None, help="Namespace (default: the kubeconfig context's)."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Pause, resume, promote, abort or retry a ModelDeployment's canary, or show it; list
    its revisions or roll back to one; approve or reject a RetrainJob's validated candidate."""


def _name(target: str, kinds: Sequence[str] = KIND_NAMES, short: str = "mdep") -> str:
    kind, slash, name = target.rpartition("/")
    if slash and kind.lower() not in kinds:
        raise click.BadParameter(f"{target!r} is not a {_kind(short)}: write {short}/NAME")
    if not name:
        raise click.BadParameter(f"no name given: write {short}/NAME")
    return name


def _kind(short: str) -> str:
    return RETRAIN_KIND if short == "rtj" else KIND


def _command(action: Action, done: str) -> click.Command:
    @TARGET
    @NAMESPACE
    def run(target: str, namespace: str | None) -> None:
        command = Command(action, secrets.token_hex(6))
        ref = _Named(KIND, _name(target), namespace)
        name = asyncio.run(_annotate(ref, ROLLOUT_ANNOTATION, command.value))
        click.echo(f"modeldeployment/{name} {done} (rollout.modelship.dev/command={command.value})")

    return click.command(name=action.value, help=f"Ask the operator to {done}.")(run)


def _approval(action: Approval, done: str) -> click.Command:
    @click.argument("target", metavar="rtj/NAME")
    @NAMESPACE
    def run(target: str, namespace: str | None) -> None:
        value = f"{action.value}/{secrets.token_hex(6)}"
        ref = _Named(RETRAIN_KIND, _name(target, RETRAIN_KIND_NAMES, "rtj"), namespace)
        name = asyncio.run(_annotate(ref, RETRAIN_ANNOTATION, value))
        click.echo(f"retrainjob/{name} {done} ({RETRAIN_ANNOTATION}={value})")

    return click.command(name=action.value, help=f"Ask the operator to {done}.")(run)


for _action, _done in (
    (Action.PAUSE, "hold the canary at its current step"),
    (Action.RESUME, "walk the canary's steps again"),
    (Action.PROMOTE, "promote the canary now, skipping the remaining steps"),
    (Action.ABORT, "roll the canary back now"),
    (Action.RETRY, "retry the rolled-back revision from the first step"),
):
    main.add_command(_command(_action, _done))
for _approve, _done in (
    (Approval.APPROVE, "promote the validated candidate waiting for approval"),
    (Approval.REJECT, "reject the validated candidate waiting for approval"),
):
    main.add_command(_approval(_approve, _done))


@main.command()
@TARGET
@NAMESPACE
def status(target: str, namespace: str | None) -> None:
    """Show the canary's steps, weights and latest analyses."""
    body = asyncio.run(_read(_name(target), namespace))
    click.echo(describe(body))


# Marks of a GitOps tool that would revert a change made in the cluster: Argo CD's
# annotation tracking (its default since 2.x/3.x) or its label option, and Flux's labels.
GITOPS_ANNOTATIONS = ("argocd.argoproj.io/tracking-id",)
GITOPS_LABELS = ("argocd.argoproj.io/instance", "kustomize.toolkit.fluxcd.io/name",
                 "helm.toolkit.fluxcd.io/name")  # fmt: skip


@main.command()
@TARGET
@NAMESPACE
def history(target: str, namespace: str | None) -> None:
    """List the revisions in status.history, numbered for rollback (the newest last)."""
    body = asyncio.run(_read(_name(target), namespace))
    click.echo("\n".join(_table(("N", "REVISION", "VERSION", "OUTCOME", "DEPLOYED", "LINEAGE"),
                                 _history_rows(body))))  # fmt: skip


@main.command()
@TARGET
@NAMESPACE
@click.option(
    "--to-revision",
    "revision",
    required=True,
    help="N from `kubectl modelship history`, or the revision's name.",
)
@click.option(
    "--print-only",
    is_flag=True,
    help="Print the change to commit instead of applying it (the default under GitOps).",
)
def rollback(target: str, namespace: str | None, revision: str, print_only: bool) -> None:
    """Serve an earlier revision's model again: set spec.model back to it (through the
    rollout strategy, like any new version). Under GitOps, print the change to commit."""
    name = _name(target)
    body = asyncio.run(_read(name, namespace))
    change = rollback_patch(body, revision)
    if print_only or _gitops(body):
        click.echo(
            f"modeldeployment/{name} is managed from Git: commit this change to spec.model "
            "there instead (a change made here would be reverted):"
        )
        click.echo(json.dumps(change, indent=2))
        return
    asyncio.run(_patch(_Named(KIND, name, namespace), change))
    model = change["spec"]["model"]
    click.echo(f"modeldeployment/{name} rolls back to version {model['version']} ({model['uri']})")


def _history_rows(body: dict[str, Any]) -> list[Sequence[str]]:
    entries = lenient(ModelDeploymentStatus, body.get("status")).history
    rows: list[Sequence[str]] = []
    for number, entry in zip(range(len(entries), 0, -1), entries, strict=True):
        lineage = entry.lineage
        said = ", ".join(
            f"{key}={value}"
            for key, value in (
                ("data", lineage.data_version if lineage else None),
                ("code", lineage.code_ref if lineage else None),
            )
            if value
        )
        deployed = entry.deployed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append((str(number), entry.revision, entry.version, entry.outcome.value, deployed,
                     said or "-"))  # fmt: skip
    return rows[::-1]


def rollback_patch(body: dict[str, Any], revision: str) -> dict[str, Any]:
    """The merge patch that sets spec.model back to a revision of status.history."""
    meta = body["metadata"]
    model = (body.get("spec") or {}).get("model") or {}
    if model.get("fromRetrainJob"):
        raise click.ClickException(
            f"modeldeployment/{meta['name']} serves what RetrainJob {model['fromRetrainJob']} "
            "promotes: roll back there (its next promotion), or set spec.model.uri and version"
        )
    entries = lenient(ModelDeploymentStatus, body.get("status")).history
    numbered = {str(len(entries) - index): entry for index, entry in enumerate(entries)}
    entry = numbered.get(revision) or next((e for e in entries if e.revision == revision), None)
    if entry is None:
        raise click.ClickException(
            f"no revision {revision!r} in modeldeployment/{meta['name']}'s history: "
            "see kubectl modelship history"
        )
    wanted: dict[str, Any] = {"version": entry.version, "uri": entry.uri, "sha256": entry.sha256}
    wanted["lineage"] = entry.lineage.to_wire() if entry.lineage is not None else None
    return {"spec": {"model": wanted}}


def _gitops(body: dict[str, Any]) -> bool:
    meta = body["metadata"]
    annotations, labels = meta.get("annotations") or {}, meta.get("labels") or {}
    return any(k in annotations for k in GITOPS_ANNOTATIONS) or any(
        k in labels for k in GITOPS_LABELS
    )


def _connect() -> Kube:
    """The client for the kubeconfig's cluster; without one, a line saying what to set."""
    try:
        return Kube.from_env(FIELD_MANAGER)
    except KubeError as error:
        raise click.ClickException(str(error)) from error


async def _patch(ref: _Named, change: dict[str, Any]) -> None:
    kube = _connect()
    try:
        await kube.patch(ref.of(kube), change)
    except KubeError as error:
        raise click.ClickException(str(error)) from error
    finally:
        await kube.close()


async def _annotate(ref: _Named, key: str, value: str) -> str:
    kube = _connect()
    try:
        await kube.patch(ref.of(kube), {"metadata": {"annotations": {key: value}}})
        return ref.name
    except KubeError as error:
        raise click.ClickException(str(error)) from error
    finally:
        await kube.close()


async def _read(name: str, namespace: str | None) -> dict[str, Any]:
    kube = _connect()
    try:
        ref = _Named(KIND, name, namespace).of(kube)
        body = await kube.get(ref)
    except KubeError as error:
        raise click.ClickException(str(error)) from error
    finally:
        await kube.close()
    if body is None:
        raise click.ClickException(f"modeldeployment {ref.namespace}/{name} not found")
    return body


@dataclass(frozen=True)
class _Named:
    """An object named on the command line; its namespace defaults to the kubeconfig's."""

    kind: str
    name: str
    namespace: str | None

    def of(self, kube: Kube) -> Ref:
        return Ref(f"{GROUP}/{VERSION}", self.kind, self.namespace or kube.namespace, self.name)


def describe(body: dict[str, Any]) -> str:
    """The rollout as tables: revisions, steps with their weights, the latest analyses."""
    meta, spec = body["metadata"], body.get("spec") or {}
    status = lenient(ModelDeploymentStatus, body.get("status"))
    rollout = spec.get("rollout") or {}
    lines = [f"ModelDeployment {meta['namespace']}/{meta['name']}"]
    lines.append(f"Strategy: {rollout.get('strategy', 'Recreate')}")
    if status.stable is not None:
        lines.append(f"Stable: {status.stable.name} (version {status.stable.version})")
    canary = status.canary
    if canary is None:
        lines.append("Canary: none")
    else:
        paused = ", paused" if canary.paused else ""
        lines.append(
            f"Canary: {canary.name} (version {canary.version}), {canary.weight}% of traffic, "
            f"{canary.ready_replicas}/{canary.replicas} pods ready, "
            f"{canary.failed_analyses} failed analyses, "
            f"{canary.failed_latency_analyses} failed on timing alone{paused}"
        )
        if (gate := canary.prediction_gate) is not None:
            said = gate.message or f"Job {gate.job} compares it with stable"
            lines.append(f"Prediction gate: {gate.phase.value}: {said}")
    progressing = next((c for c in status.conditions if c.type == "Progressing"), None)
    if progressing is not None:
        lines.append(f"Progressing: {progressing.reason}: {progressing.message}")
    if status.rollout_command:
        lines.append(f"Last command: {status.rollout_command}")
    steps = ((rollout.get("canary") or {}).get("steps")) or []
    if steps:
        current = canary.step if canary is not None else None
        rows = [
            (
                str(index + 1),
                f"{step.get('weight', 0)}%",
                step.get("pause") or "-",
                _step_state(index, current, step.get("pause")),
            )
            for index, step in enumerate(steps)
        ]
        lines += ["", *_table(("STEP", "WEIGHT", "PAUSE", "STATE"), rows)]
    if canary is not None and canary.analyses:
        rows = [
            (
                a.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                str(a.step + 1),
                a.outcome.value,
                a.message,
            )
            for a in canary.analyses
        ]
        lines += ["", *_table(("AT", "STEP", "OUTCOME", "MEASURED"), rows)]
    return "\n".join(lines)


def _step_state(index: int, current: int | None, pause: str | None) -> str:
    if current is None:
        return "-"
    if index < current:
        return "done"
    if index > current:
        return "pending"
    return "current (pause)" if pause and duration(pause) else "current (analysis)"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]
