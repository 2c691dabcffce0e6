"""`modelship configure` makes the ModelDeployment's serving settings win over the packaged
config.pbtxt (instance group, GPU, dynamic batching), keeps everything else as packaged,
and refuses configs it cannot tune with a message that says what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from google.protobuf import text_format
from modelship.cli import main
from modelship_serving.configure import (
    ConfigureError,
    ServingOverrides,
    configure_model,
    read_config,
)
from tritonclient.grpc import model_config_pb2

PACKAGED = """
name: "wine"
backend: "python"
max_batch_size: 64
input { name: "alcohol" data_type: TYPE_FP32 dims: [ 1 ] }
output { name: "label" data_type: TYPE_INT64 dims: [ 1 ] }
dynamic_batching { max_queue_delay_microseconds: 100 }
instance_group { count: 1 kind: KIND_CPU }
"""


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    (tmp_path / "wine").mkdir()
    (tmp_path / "wine" / "config.pbtxt").write_text(PACKAGED)
    return tmp_path


def _as_dict(config: model_config_pb2.ModelConfig) -> dict[str, object]:
    from google.protobuf.json_format import MessageToDict

    return MessageToDict(config)


@pytest.mark.parametrize(
    ("overrides", "instance_group", "dynamic_batching"),
    [
        (
            ServingOverrides(instance_count=2, instance_kind="KIND_GPU"),
            [{"count": 2, "kind": "KIND_GPU"}],
            {"maxQueueDelayMicroseconds": "100"},
        ),
        (
            ServingOverrides(
                instance_count=3,
                instance_kind="KIND_CPU",
                max_queue_delay_microseconds=500,
                preferred_batch_sizes=[8, 16],
            ),
            [{"count": 3, "kind": "KIND_CPU"}],
            {"maxQueueDelayMicroseconds": "500", "preferredBatchSize": [8, 16]},
        ),
    ],
)
def test_overrides_replace_instances_and_batching_only(
    repository: Path,
    overrides: ServingOverrides,
    instance_group: list[dict[str, object]],
    dynamic_batching: dict[str, object],
) -> None:
    configure_model(repository, "wine", overrides)

    tuned = _as_dict(read_config(repository / "wine" / "config.pbtxt"))
    packaged = _as_dict(text_format.Parse(PACKAGED, model_config_pb2.ModelConfig()))
    assert tuned == packaged | {
        "instanceGroup": instance_group,
        "dynamicBatching": dynamic_batching,
    }


def test_batching_on_an_unbatched_model_is_refused_untouched(repository: Path) -> None:
    config = repository / "wine" / "config.pbtxt"
    config.write_text(PACKAGED.replace("max_batch_size: 64", "max_batch_size: 0"))
    before = config.read_text()

    with pytest.raises(ConfigureError, match=r"max_batch_size 0.*remove serving\.dynamicBatching"):
        configure_model(
            repository,
            "wine",
            ServingOverrides(
                instance_count=1, instance_kind="KIND_CPU", max_queue_delay_microseconds=10
            ),
        )
    assert config.read_text() == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist: is the model name right"),
        ("name: [broken", "is not a valid Triton model config"),
    ],
)
def test_unusable_configs_are_named(repository: Path, content: str | None, message: str) -> None:
    config = repository / "wine" / "config.pbtxt"
    if content is None:
        config.unlink()
    else:
        config.write_text(content)
    with pytest.raises(ConfigureError, match=message):
        configure_model(
            repository, "wine", ServingOverrides(instance_count=1, instance_kind="KIND_CPU")
        )


def test_cli_tunes_the_config_and_reports_errors_in_one_line(repository: Path) -> None:
    runner = CliRunner()
    args = ["configure", "--repository", str(repository), "--model", "wine"]

    done = runner.invoke(main, [*args, "--instance-count", "2", "--instance-kind", "KIND_GPU"])
    assert done.exit_code == 0, done.output
    group = read_config(repository / "wine" / "config.pbtxt").instance_group
    assert [(g.count, g.kind) for g in group] == [(2, model_config_pb2.ModelInstanceGroup.KIND_GPU)]

    missing = runner.invoke(main, [*args[:-1], "nope"])
    assert missing.exit_code == 1
    assert missing.output.startswith("Error: ")
    assert "Traceback" not in missing.output


def test_a_preferred_size_above_the_packaged_max_is_refused_in_one_line_naming_both(
    repository: Path,
) -> None:
    """Triton would refuse to load the model and the pod would never be ready: the init
    container says why instead, and leaves the config as packaged."""
    config = repository / "wine" / "config.pbtxt"
    before = config.read_text()
    args = ["configure", "--repository", str(repository), "--model", "wine"]
    batching = ["--max-queue-delay-microseconds", "100"]
    sizes = ["--preferred-batch-size", "32", "--preferred-batch-size", "128"]

    refused = CliRunner().invoke(main, [*args, *batching, *sizes])

    assert refused.exit_code == 1
    lines = refused.output.strip().splitlines()
    assert len(lines) == 1, refused.output
    assert lines[0].startswith("Error: serving.dynamicBatching.preferredBatchSizes has 128, ")
    assert "max_batch_size 64" in lines[0]
    assert config.read_text() == before


def test_a_preferred_size_equal_to_the_packaged_max_is_kept(repository: Path) -> None:
    overrides = ServingOverrides(
        instance_count=1,
        instance_kind="KIND_CPU",
        max_queue_delay_microseconds=100,
        preferred_batch_sizes=[64],
    )
    configure_model(repository, "wine", overrides)
    tuned = read_config(repository / "wine" / "config.pbtxt")
    assert list(tuned.dynamic_batching.preferred_batch_size) == [64]


@pytest.mark.parametrize("size", ["0", "-4"])
def test_a_preferred_size_below_one_is_refused_by_the_cli(repository: Path, size: str) -> None:
    args = ["configure", "--repository", str(repository), "--model", "wine"]
    refused = CliRunner().invoke(
        main, [*args, "--max-queue-delay-microseconds", "1", "--preferred-batch-size", size]
    )
    assert refused.exit_code == 2
    assert "--preferred-batch-size" in refused.output


def test_a_preferred_size_without_a_queue_delay_is_refused_not_dropped(repository: Path) -> None:
    config = repository / "wine" / "config.pbtxt"
    before = config.read_text()
    args = ["configure", "--repository", str(repository), "--model", "wine"]

    refused = CliRunner().invoke(main, [*args, "--preferred-batch-size", "32"])

    assert refused.exit_code == 2
    assert refused.output.strip().splitlines()[-1] == (
        "Error: --preferred-batch-size tunes dynamic batching: give"
        " --max-queue-delay-microseconds too (0 batches what has arrived without waiting)"
    )
    assert config.read_text() == before
