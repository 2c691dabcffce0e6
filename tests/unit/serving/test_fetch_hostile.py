"""Hostile and broken sources for `modelship fetch` (archives, directories, destinations), and
the init sequence run twice in one pod: each is refused with one line, within a bounded time
and a bounded number of bytes written, and nothing is installed; a complete earlier fetch
followed by `configure` is recognised when the init containers run again."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from modelship.cli import main
from modelship_serving.configure import ServingOverrides, configure_model, read_config
from modelship_serving.digest import repository_sha256
from modelship_serving.errors import FetchError
from modelship_serving.fetch.archive import write_repository_archive
from modelship_serving.fetch.fetch import fetch_repository
from modelship_serving.fetch.limits import BLOCK_BYTES, FetchBudget, FetchLimitError

pytestmark = pytest.mark.timeout(30)  # a regression here hangs or fills the disk: bound it

MiB = 1024 * 1024


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    root = tmp_path / "source"
    (root / "wine" / "1").mkdir(parents=True)
    (root / "wine" / "config.pbtxt").write_text(
        'name: "wine"\nmax_batch_size: 8\ndynamic_batching { max_queue_delay_microseconds: 100 }\n'
    )
    (root / "wine" / "1" / "model.onnx").write_bytes(b"\x08\x07" * 1000)
    return root


def _tar_bytes(members: list[tuple[str, bytes]], gzipped: bool = False) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if gzipped else "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _nothing_installed(tmp_path: Path, destination: Path) -> None:
    assert not destination.exists()
    assert not [p for p in tmp_path.iterdir() if ".modelship-fetch-" in p.name]


def _refused(uri: str, tmp_path: Path, match: str) -> None:
    """Fetching `uri` fails with `match` and installs nothing, not even a temporary folder."""
    with pytest.raises(FetchError, match=match):
        fetch_repository(uri, tmp_path / "dest")
    _nothing_installed(tmp_path, tmp_path / "dest")


def _one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


# Sizes and bombs -------------------------------------------------------------------------


def test_a_gzip_bomb_stops_at_the_byte_limit(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.tar.gz"
    with tarfile.open(bomb, "w:gz") as tar:
        info = tarfile.TarInfo("wine/1/model.onnx")
        info.size = 64 * MiB
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    assert bomb.stat().st_size < MiB  # 64 MiB of zeros compress to about 64 KiB
    with pytest.raises(FetchLimitError, match=r"past its limit of 4194304 bytes") as caught:
        fetch_repository(bomb.as_uri(), tmp_path / "dest", budget=FetchBudget(max_bytes=4 * MiB))
    assert "--max-bytes" in _one_line(caught)
    _nothing_installed(tmp_path, tmp_path / "dest")


def test_a_member_larger_than_the_limit_is_refused_before_it_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "big.tar"
    archive.write_bytes(_tar_bytes([("wine/config.pbtxt", b"x"), ("wine/big", bytes(2 * MiB))]))
    written: list[str] = []
    extract = tarfile.TarFile.extract

    def recording_extract(
        self: tarfile.TarFile, member: tarfile.TarInfo, *a: object, **k: object
    ) -> None:
        written.append(member.name)
        extract(self, member, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(tarfile.TarFile, "extract", recording_extract)
    with pytest.raises(FetchLimitError):
        fetch_repository(archive.as_uri(), tmp_path / "dest", budget=FetchBudget(max_bytes=MiB))
    assert written == ["wine/config.pbtxt"]


def test_an_archive_of_many_empty_files_is_bounded_too(tmp_path: Path) -> None:
    archive = tmp_path / "inodes.tar.gz"
    archive.write_bytes(_tar_bytes([(f"m/{i}", b"") for i in range(2000)], gzipped=True))
    with pytest.raises(FetchLimitError):
        fetch_repository(
            archive.as_uri(), tmp_path / "dest", budget=FetchBudget(max_bytes=100 * BLOCK_BYTES)
        )
    _nothing_installed(tmp_path, tmp_path / "dest")


def test_a_directory_larger_than_the_limit_is_refused(repository: Path, tmp_path: Path) -> None:
    (repository / "wine" / "1" / "weights.bin").write_bytes(bytes(3 * MiB))
    with pytest.raises(FetchLimitError):
        fetch_repository(repository.as_uri(), tmp_path / "d", budget=FetchBudget(max_bytes=MiB))
    _nothing_installed(tmp_path, tmp_path / "d")


def test_the_cli_takes_the_limit_from_a_flag_or_the_environment(
    repository: Path, tmp_path: Path
) -> None:
    (repository / "wine" / "1" / "weights.bin").write_bytes(bytes(2 * MiB))
    runner = CliRunner()
    uri = repository.as_uri()
    by_flag = runner.invoke(
        main, ["fetch", "--uri", uri, "--dest", str(tmp_path / "a"), "--max-bytes", str(MiB)]
    )
    by_env = runner.invoke(
        main,
        ["fetch", "--uri", uri, "--dest", str(tmp_path / "b")],
        env={"MODELSHIP_FETCH_MAX_BYTES": str(MiB)},
    )
    for result in (by_flag, by_env):
        assert result.exit_code == 1, result.output
        assert "Error: " in result.output
        assert "past its limit of 1048576 bytes" in result.output
        assert "Traceback" not in result.output
    fits = runner.invoke(
        main, ["fetch", "--uri", uri, "--dest", str(tmp_path / "c"), "--max-bytes", str(4 * MiB)]
    )
    assert fits.exit_code == 0, fits.output


# Links and special files in a directory source (file://, and pvc:// mounted as one) ------


def test_a_link_to_dev_zero_is_refused_not_copied_forever(repository: Path, tmp_path: Path) -> None:
    (repository / "wine" / "1" / "weights.bin").symlink_to("/dev/zero")
    with pytest.raises(FetchError, match=r"'wine/1/weights.bin', a link that leaves") as caught:
        fetch_repository(repository.as_uri(), tmp_path / "dest")
    _one_line(caught)
    _nothing_installed(tmp_path, tmp_path / "dest")


def test_a_link_out_of_the_source_is_never_followed(repository: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not copy me")
    (repository / "wine" / "leak").symlink_to(secret)
    _refused(repository.as_uri(), tmp_path, "a link that leaves the directory")


def test_a_link_to_a_file_inside_the_source_is_copied_as_that_file(
    repository: Path, tmp_path: Path
) -> None:
    (repository / "wine" / "2").mkdir()
    (repository / "wine" / "2" / "model.onnx").symlink_to("../1/model.onnx")
    fetch_repository(repository.as_uri(), tmp_path / "dest")
    copied = tmp_path / "dest" / "wine" / "2" / "model.onnx"
    assert not copied.is_symlink()
    assert copied.read_bytes() == b"\x08\x07" * 1000


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda p: p.symlink_to(p.parent / "nowhere"), "a dangling link"),
        (lambda p: p.symlink_to(p), "a link loop"),
        (lambda p: os.mkfifo(p), "a FIFO"),
        (lambda p: p.symlink_to(p.parent.parent), "a link to a directory"),
    ],
    ids=["dangling", "loop", "fifo", "directory-link-cycle"],
)
def test_broken_entries_are_one_line_errors(
    repository: Path, tmp_path: Path, make: object, why: str
) -> None:
    make(repository / "wine" / "odd")  # type: ignore[operator]
    runner = CliRunner()
    result = runner.invoke(
        main, ["fetch", "--uri", repository.as_uri(), "--dest", str(tmp_path / "dest")]
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output.startswith("Error: ")
    assert "'wine/odd'" in result.output
    assert why in result.output
    _nothing_installed(tmp_path, tmp_path / "dest")


def test_an_unwritable_destination_is_one_line(repository: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = CliRunner().invoke(
        main, ["fetch", "--uri", repository.as_uri(), "--dest", str(blocker / "models")]
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output.startswith("Error: cannot write the repository into")


# Truncated archives --------------------------------------------------------------------


def test_a_plain_tar_cut_at_a_member_boundary_is_refused(tmp_path: Path) -> None:
    whole = _tar_bytes([("wine/config.pbtxt", b"a" * 512), ("wine/1/model.onnx", b"b" * 512)])
    # Keep the first member (header + one data block) only: no end-of-archive marker.
    truncated = tmp_path / "model.tar"
    truncated.write_bytes(whole[:1024])
    with pytest.raises(FetchError, match="truncated") as caught:
        fetch_repository(truncated.as_uri(), tmp_path / "dest")
    _one_line(caught)
    _nothing_installed(tmp_path, tmp_path / "dest")


def test_a_plain_tar_cut_inside_a_member_is_refused(tmp_path: Path) -> None:
    whole = _tar_bytes([("wine/config.pbtxt", b"a" * 5000)])
    truncated = tmp_path / "model.tar"
    truncated.write_bytes(whole[:3000])
    _refused(truncated.as_uri(), tmp_path, "not a readable tar archive")


def test_a_gzip_cut_before_its_trailer_is_refused(tmp_path: Path) -> None:
    plain = _tar_bytes([("wine/config.pbtxt", b"a" * 512)])
    compressed = gzip.compress(plain)
    truncated = tmp_path / "model.tar.gz"
    truncated.write_bytes(compressed[:-8])  # the CRC32 and length trailer are gone
    _refused(truncated.as_uri(), tmp_path, "not a readable tar archive")


def test_a_whole_archive_from_another_writer_is_still_accepted(
    repository: Path, tmp_path: Path
) -> None:
    """GNU tar pads to 10 KiB records; Python's writer too: both end with zero blocks."""
    archive = tmp_path / "model.tar"
    archive.write_bytes(_tar_bytes([("wine/config.pbtxt", b"x" * 700)]))
    assert fetch_repository(archive.as_uri(), tmp_path / "dest").files == 1


# The init sequence, run again in the same pod -------------------------------------------


def test_fetch_configure_fetch_configure_serves_the_same_config(
    repository: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "model.tar.gz"
    write_repository_archive(repository, archive)
    digest = repository_sha256(repository)
    mount = tmp_path / "models"
    mount.mkdir()
    overrides = ServingOverrides(
        instance_count=2,
        instance_kind="KIND_GPU",
        max_queue_delay_microseconds=500,
        preferred_batch_sizes=[4],
    )
    assert not fetch_repository(archive.as_uri(), mount, digest).already_present
    first = configure_model(mount, "wine", overrides).read_text()
    again = fetch_repository(archive.as_uri(), mount, digest)
    assert again.already_present
    assert again.sha256 == digest
    assert again.files == 2
    assert configure_model(mount, "wine", overrides).read_text() == first


def test_the_cli_init_sequence_can_run_twice(repository: Path, tmp_path: Path) -> None:
    digest = repository_sha256(repository)
    mount = tmp_path / "models"
    mount.mkdir()
    runner = CliRunner()
    fetch = ["fetch", "--uri", repository.as_uri(), "--dest", str(mount), "--sha256", digest]
    configure = ["configure", "--repository", str(mount), "--model", "wine",
                 "--instance-count", "3"]  # fmt: skip
    outputs = []
    for _ in range(2):
        fetched = runner.invoke(main, fetch)
        assert fetched.exit_code == 0, fetched.output
        configured = runner.invoke(main, configure)
        assert configured.exit_code == 0, configured.output
        outputs.append((mount / "wine" / "config.pbtxt").read_text())
    assert "already present" in fetched.output
    assert outputs[0] == outputs[1]
    assert read_config(mount / "wine" / "config.pbtxt").instance_group[0].count == 3


def test_a_changed_model_file_is_still_refused_on_the_second_run(
    repository: Path, tmp_path: Path
) -> None:
    digest = repository_sha256(repository)
    mount = tmp_path / "models"
    mount.mkdir()
    fetch_repository(repository.as_uri(), mount, digest)
    configure_model(mount, "wine", ServingOverrides(instance_count=1, instance_kind="KIND_CPU"))
    (mount / "wine" / "1" / "model.onnx").write_bytes(b"tampered")
    with pytest.raises(FetchError, match="is not empty"):
        fetch_repository(repository.as_uri(), mount, digest)


def test_configure_derives_from_the_packaged_config_each_time(repository: Path) -> None:
    batching = ServingOverrides(
        instance_count=1, instance_kind="KIND_CPU", max_queue_delay_microseconds=900
    )
    plain = ServingOverrides(instance_count=1, instance_kind="KIND_CPU")
    configure_model(repository, "wine", batching)
    path = configure_model(repository, "wine", plain)
    # The packaged delay comes back once the ModelDeployment stops overriding it.
    assert read_config(path).dynamic_batching.max_queue_delay_microseconds == 100
