"""`modelship render` refuses what a real cluster (API server, kubelet, KEDA, Gateway API)
would refuse, one line per problem naming the field and saying in words what is wanted."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from modelship.cli.render import render
from support.custom_resources import MINIMAL_MODEL_DEPLOYMENT_YAML as HEAD


@pytest.mark.parametrize(
    ("spec", "line"),
    [
        (
            "  serving: {image: 'triton :1'}\n",
            "spec.serving.image: must be an image reference without whitespace, such as "
            "ghcr.io/org/triton:24.10, not 'triton :1'",
        ),
        (
            "  serving: {replicas: 2147483648}\n",
            "spec.serving.replicas: Input should be less than or equal to 2147483647",
        ),
        (
            "  serving: {resources: {requests: {cpu: '-1'}}}\n",
            "spec.serving.resources.requests.cpu: must be a Kubernetes quantity such as 500m, "
            "2Gi or 4, not '-1'",
        ),
        (
            "  serving: {resources: {requests: {cpu: '2'}, limits: {cpu: '1'}}}\n",
            "spec.serving.resources: requests of cpu exceed their limits: lower the request or "
            "raise the limit",
        ),
        (
            "  serving: {tolerations: [{key: 'bad key', operator: Exists}]}\n",
            "spec.serving.tolerations[0].key: must be a taint key (a label name such as "
            "nvidia.com/gpu), or empty, not 'bad key'",
        ),
        (
            "  batch: [{name: n, schedule: '@daily', input: {uri: 'pvc:///x.csv'}, "
            "output: {uri: 's3://o/{date}.csv'}}]\n",
            "spec.batch[0].input.uri: must be a uri starting with s3://, gs://, az://, http(s)://, "
            "pvc://CLAIM (a claim's name) or file://, with no user info or query string (put a "
            "presigned URL in a Secret), not 'pvc:///x.csv'",
        ),
        (
            "  batch: [{name: n, schedule: '@daily', input: {uri: "
            "'https://b.s3.amazonaws.com/in.csv?X-Amz-Signature=abc'}, "
            "output: {uri: 's3://o/{date}.csv'}}]\n",
            "spec.batch[0].input.uri: must be a uri starting with s3://, gs://, az://, http(s)://, "
            "pvc://CLAIM (a claim's name) or file://, with no user info or query string (put a "
            "presigned URL in a Secret), not a uri with user info, a query string or a fragment "
            "(shown here without them: 'https://b.s3.amazonaws.com/in.csv')",
        ),
        (
            "  autoscaling: {engine: keda, maxReplicas: 2, "
            "metrics: [{type: memory, target: 80}]}\n",
            "spec: KEDA's memory metric needs serving.resources.requests.memory (or "
            "limits.memory): KEDA refuses a ScaledObject whose Triton container requests no "
            "memory",
        ),
    ],
    ids=[
        "image",
        "replicas",
        "negative-cpu",
        "requests-above-limits",
        "toleration",
        "pvc",
        "presigned",
        "keda",
    ],
)
def test_render_names_the_field_a_cluster_would_refuse(
    spec: str, line: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(HEAD + spec)
    result = CliRunner().invoke(render, ["-f", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: {path}: ModelDeployment/fraud: {line}"]


@pytest.mark.parametrize(
    "uri",
    ["s3://AKIA4EXAMPLE:s3cr3t@models/fraud/3", "https://h/m.tar.gz?sig=s3cr3t", "gs://m/f#s3cr3t"],
)
def test_a_refused_uri_is_not_echoed_with_its_secret(uri: str, tmp_path: Path) -> None:
    """The refusal lands in CI logs: it names the problem and shows the uri without it."""
    path = tmp_path / "bad.yaml"
    path.write_text(HEAD.replace("s3://models/fraud/3", uri))
    result = CliRunner().invoke(render, ["-f", str(path)])
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {path}: ModelDeployment/fraud: spec.model.uri: must be a uri")
    assert "not a uri with user info, a query string or a fragment (shown here without" in line
    assert "s3cr3t" not in result.output


@pytest.mark.parametrize(
    ("spec", "line"),
    [
        (
            "  serving: {replicas: '2'}\n",
            "spec.serving.replicas: must be a whole number, not the string '2': remove the quotes",
        ),
        (
            "  serving: {gpu: {count: 1}}\n  batch: [{name: n, schedule: '@daily', gpu: 'true', "
            "input: {uri: 's3://i/x.csv'}, output: {uri: 's3://o/{date}.csv'}}]\n",
            "spec.batch[0].gpu: must be true or false, not the string 'true': remove the quotes",
        ),
        (
            "  autoscaling: {maxReplicas: 3, metrics: [{type: cpu, target: 50.5}]}\n",
            "spec.autoscaling.metrics[0].target: must be a whole number, not 50.5",
        ),
    ],
    ids=["quoted-int", "quoted-bool", "fraction"],
)
def test_render_types_fields_as_the_api_server_does(spec: str, line: str, tmp_path: Path) -> None:
    """The API server refuses "2" for an integer: render must not read it as 2 and print."""
    path = tmp_path / "bad.yaml"
    path.write_text(HEAD + spec)
    result = CliRunner().invoke(render, ["-f", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: {path}: ModelDeployment/fraud: {line}"]


def test_an_unquoted_date_is_the_string_written_as_kubectl_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "dated.yaml"
    path.write_text(HEAD.replace('version: "3"', "version: 2024-11-18"))
    result = CliRunner().invoke(render, ["-f", str(path)])
    assert result.exit_code == 0, result.output
    assert "modelship.dev/model-version: '2024-11-18'" in result.stdout


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        (
            'version: "3"',
            'version: "1.0+build.5"',
            "spec.model.version: must be a version of letters, digits, '-', '_' and '.', starting "
            "and ending with a letter or digit, such as 2024.11.3 or v2-rc1 (it labels the pods), "
            "not '1.0+build.5'",
        ),
        (
            "spec:\n",
            "spec:\n  rollout: {strategy: Canary, canary: {predictionGate: "
            "{minAgreement: 0.9, data: 's3://b/rows.txt'}}}\n",
            "spec.rollout.canary.predictionGate.data: must be an s3://, gs://, az:// or http(s):// "
            "uri of a .csv, .parquet or .jsonl table, with no user info or query string (put a "
            "presigned URL in a Secret), not 's3://b/rows.txt'",
        ),
    ],
    ids=["version", "gate-data"],
)
def test_patterns_are_said_in_words(old: str, new: str, line: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(HEAD.replace(old, new))
    result = CliRunner().invoke(render, ["-f", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: {path}: ModelDeployment/fraud: {line}"]
