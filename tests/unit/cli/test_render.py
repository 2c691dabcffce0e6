"""`modelship render`: YAML streams for good manifests, one exact line per problem for bad ones.

Proves, through click's CliRunner: every sample renders (exit 0) to the same
objects the builders build, without ownerReferences; several files and
documents render in order; fromRetrainJob needs the promoted result, taken
from --retrain-result or a RetrainJob's status in the input; invalid input
exits 2 with one line per problem naming the camelCase field path, prints
nothing on stdout and no traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from modelship.cli.render import render
from support.custom_resources import MINIMAL_MODEL_DEPLOYMENT_YAML

SAMPLES = Path(__file__).resolve().parents[3] / "crds" / "samples"
FOLLOWER = SAMPLES / "modeldeployment-from-retrainjob.yaml"
RESULT = {"version": "r7", "uri": "s3://models/churn/r7", "sha256": "e" * 64}

GOOD = """\
apiVersion: modelship.dev/v1alpha1
kind: ModelDeployment
metadata: {name: fraud, namespace: ml}
spec:
  model: {name: fraud, version: "3", uri: "s3://models/fraud/3"}
"""
BAD = (
    MINIMAL_MODEL_DEPLOYMENT_YAML
    + """\
  serving:
    replicas: -1
    resources: {requests: {cpu: lots}}
    gpus: 1
  autoscaling: {minReplicas: 5, maxReplicas: 2}
  batch:
    - {name: nightly, schedule: "@daily", input: {uri: "s3://in.csv"}}
    - {name: hourly, schedule: "hourly", input: {uri: "in.csv"}, output: {uri: "s3://o/{date}.csv"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: stray}
---
apiVersion: modelship.dev/v1alpha1
kind: RetrainJob
metadata: {name: Fraud_Retrain}
spec:
  modelDeployment: fraud
  template: {image: trainer:1}
  data: {uri: "s3://data"}
  output: {uri: "s3://models/{run}"}
  validation: {metric: auc}
"""
)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "path",
    sorted(p for p in SAMPLES.glob("*.yaml") if p != FOLLOWER),
    ids=lambda p: p.name,
)
def test_every_sample_renders(path: Path, runner: CliRunner) -> None:
    result = runner.invoke(render, ["-f", str(path)])
    assert result.exit_code == 0, result.output
    objects = list(yaml.safe_load_all(result.stdout))
    assert objects
    assert all("ownerReferences" not in obj["metadata"] for obj in objects)


def test_a_good_file_renders_the_children_in_order(tmp_path: Path, runner: CliRunner) -> None:
    first = _write(tmp_path, "a.yaml", GOOD)
    second = _write(
        tmp_path, "b.yaml", GOOD.replace("name: fraud, namespace", "name: b, namespace")
    )
    result = runner.invoke(render, ["-f", first, "-f", second])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("apiVersion: apps/v1\nkind: Deployment\n")
    names = [(o["kind"], o["metadata"]["name"]) for o in yaml.safe_load_all(result.stdout)]
    assert names == [
        ("Deployment", "fraud-1b64e32ff5"),
        ("Service", "fraud-1b64e32ff5"),
        ("Service", "fraud"),
        ("PodDisruptionBudget", "fraud"),
        ("Deployment", "b-1b64e32ff5"),
        ("Service", "b-1b64e32ff5"),
        ("Service", "b"),
        ("PodDisruptionBudget", "b"),
    ]


def test_invalid_input_gives_one_line_per_problem(tmp_path: Path, runner: CliRunner) -> None:
    path = _write(tmp_path, "bad.yaml", BAD)
    result = runner.invoke(render, ["-f", path])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Traceback" not in result.output
    m = f"error: {path}: ModelDeployment/fraud"
    assert result.stderr.splitlines() == [
        f"{m}: spec.serving.replicas: Input should be greater than or equal to 0",
        f"{m}: spec.serving.resources.requests.cpu: must be a Kubernetes quantity such as "
        "500m, 2Gi or 4, not 'lots'",
        f"{m}: spec.serving.gpus: unknown field: remove it or fix its spelling (kubectl "
        "explain lists the fields)",
        f"{m}: spec.autoscaling: minReplicas must not exceed maxReplicas (5 > 2)",
        f"{m}: spec.batch[0].output: Field required",
        f"{m}: spec.batch[1].schedule: must be a cron schedule such as '0 2 * * *' (minute "
        "0-59, hour 0-23, day 1-31, month 1-12, weekday 0-7) or @daily, not 'hourly'",
        f"{m}: spec.batch[1].input.uri: must be a uri starting with s3://, gs://, "
        "az://, http(s)://, pvc://CLAIM (a claim's name) or file://, with no user info or query "
        "string (put a presigned URL in a Secret), not 'in.csv'",
        f"error: {path}: document 2: kind 'ConfigMap' is not rendered "
        "(expected ModelDeployment or RetrainJob)",
        f"error: {path}: RetrainJob/Fraud_Retrain: metadata.name must be a DNS-1123 label: at "
        "most 63 lower case letters, digits and '-', starting and ending with a letter or "
        "digit (it labels every training Job)",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "kind: [\n",
            "not valid YAML: expected the node content, but found '<stream end>' (line 2)",
        ),
        # PyYAML alone keeps the last of two keys; kubectl refuses the manifest.
        (
            "kind: ModelDeployment\nspec: {serving: {replicas: 2}}\nspec: {}\n",
            "not valid YAML: key 'spec' is given twice (line 3)",
        ),
        ("- just\n- a list\n", "document 1 is a list, not a mapping: give an object with"),
        ("just words\n", "document 1 is a string, not a mapping"),
        ("apiVersion: v1\nmetadata: {name: x}\n", "document 1: no kind (expected"),
        # An empty file (or stream) printed nothing and exited 0, as if all were well.
        ("", "holds no object: give a ModelDeployment or RetrainJob"),
        ("# only a comment\n---\n", "holds no object: give a ModelDeployment or RetrainJob"),
    ],
    ids=["unparsable", "duplicate-key", "a-list", "a-string", "no-kind", "empty", "comment-only"],
)
def test_unreadable_input(text: str, message: str, tmp_path: Path, runner: CliRunner) -> None:
    path = _write(tmp_path, "x.yaml", text)
    result = runner.invoke(render, ["-f", path])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}: {message}")
    assert len(result.stderr.splitlines()) == 1


def test_from_retrain_job_needs_the_promoted_result(runner: CliRunner) -> None:
    result = runner.invoke(render, ["-f", str(FOLLOWER)])
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {FOLLOWER}: ModelDeployment/churn: spec.model.fromRetrainJob: RetrainJob "
        '"churn-weekly" is not known; cannot render offline without --retrain-result '
        "churn-weekly=FILE\n"
    )


def test_from_retrain_job_with_retrain_result(tmp_path: Path, runner: CliRunner) -> None:
    result_file = _write(tmp_path, "result.json", json.dumps(RESULT))
    result = runner.invoke(
        render, ["-f", str(FOLLOWER), "--retrain-result", f"churn-weekly={result_file}"]
    )
    assert result.exit_code == 0, result.output
    deployment = next(yaml.safe_load_all(result.stdout))
    init = deployment["spec"]["template"]["spec"]["initContainers"][0]
    assert init["args"] == [
        "fetch", "--uri", "s3://models/churn/r7", "--dest", "/models",
        "--max-bytes", "21474836480", "--timeout-seconds", "1800", "--sha256", "e" * 64,
    ]  # fmt: skip


def test_from_retrain_job_with_promoted_status_in_the_input(
    tmp_path: Path, runner: CliRunner
) -> None:
    rtj = yaml.safe_load((SAMPLES / "retrainjob-scheduled.yaml").read_text())
    rtj["status"] = {"promoted": RESULT}
    both = FOLLOWER.read_text() + "---\n" + yaml.safe_dump(rtj)
    result = runner.invoke(render, ["-f", _write(tmp_path, "both.yaml", both)])
    assert result.exit_code == 0, result.output
    deployment = next(yaml.safe_load_all(result.stdout))
    assert deployment["metadata"]["annotations"] == {
        "modelship.dev/model-uri": "s3://models/churn/r7",
        "modelship.dev/model-sha256": "e" * 64,
        "modelship.dev/lineage": '{"dataUri": "s3://ml-data/churn/", "dataVersion": '
        '"2024-11-18", "parameters": {}}',
    }
    assert [o["kind"] for o in yaml.safe_load_all(result.stdout)][-1] == "CronJob"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("churn-weekly", "--retrain-result churn-weekly: expected RETRAINJOB=FILE"),
        ("churn-weekly=/nonexistent.json", "cannot read /nonexistent.json"),
        ("churn-weekly={bad}", "version: Field required"),
        ("churn-weekly={empty}", "empty.json holds no object: give the trainer's result JSON"),
    ],
    ids=["no-file", "missing-file", "invalid-result", "empty-file"],
)
def test_bad_retrain_result(option: str, message: str, tmp_path: Path, runner: CliRunner) -> None:
    bad = _write(tmp_path, "bad.json", json.dumps({"uri": "s3://x"}))
    empty = _write(tmp_path, "empty.json", "")
    option = option.replace("{bad}", bad).replace("{empty}", empty)
    result = runner.invoke(render, ["-f", str(FOLLOWER), "--retrain-result", option])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("written", "read_as"), [("3", "the int 3"), ("1.10", "the float 1.1")])
def test_an_unquoted_version_is_told_to_be_quoted(
    written: str, read_as: str, tmp_path: Path, runner: CliRunner
) -> None:
    text = (SAMPLES / "modeldeployment-minimal.yaml").read_text()
    version = yaml.safe_load(text)["spec"]["model"]["version"]
    path = _write(tmp_path, "v.yaml", text.replace(f'version: "{version}"', f"version: {written}"))
    result = runner.invoke(render, ["-f", path])
    assert result.exit_code == 2
    assert result.stderr.endswith(
        f"spec.model.version: must be a string, not {read_as}: quote it in the YAML\n"
    )
