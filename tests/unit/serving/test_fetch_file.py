"""`modelship fetch` from file:// (a directory or an archive) installs exactly the packaged
repository, verifies the sha256, installs nothing on a mismatch or a bad archive, fills an
existing empty directory (an emptyDir mount), is idempotent on rerun, and retries only
transient failures."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from modelship.cli import main
from modelship_serving.digest import repository_sha256
from modelship_serving.errors import ChecksumError, FetchError
from modelship_serving.fetch.archive import write_repository_archive
from modelship_serving.fetch.fetch import fetch_repository
from modelship_serving.fetch.retry import TransientFetchError, with_retries
from modelship_serving.fetch.uri import parse_model_uri, redact_uri


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    root = tmp_path / "source"
    (root / "wine" / "1").mkdir(parents=True)
    (root / "wine" / "config.pbtxt").write_text('name: "wine"\n')
    (root / "wine" / "1" / "model.onnx").write_bytes(b"\x08\x07" * 1000)
    return root


def test_directory_uri_is_copied_and_verified(repository: Path, tmp_path: Path) -> None:
    digest = repository_sha256(repository)
    result = fetch_repository(repository.as_uri(), tmp_path / "dest", digest)
    assert result.sha256 == digest
    assert result.files == 2
    assert repository_sha256(tmp_path / "dest") == digest
    assert not result.already_present


def test_archive_uri_gives_the_same_digest(repository: Path, tmp_path: Path) -> None:
    archive = tmp_path / "model.tar.gz"
    write_repository_archive(repository, archive)
    result = fetch_repository(archive.as_uri(), tmp_path / "dest", repository_sha256(repository))
    assert (tmp_path / "dest" / "wine" / "1" / "model.onnx").read_bytes() == b"\x08\x07" * 1000
    assert result.sha256 == repository_sha256(repository)


def test_wrong_checksum_installs_nothing(repository: Path, tmp_path: Path) -> None:
    with pytest.raises(ChecksumError, match=r"expected 0{64}, got"):
        fetch_repository(repository.as_uri(), tmp_path / "dest", "0" * 64)
    assert not (tmp_path / "dest").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["source"]  # no staging leftovers


def test_existing_empty_directory_is_filled_and_rerun_is_a_no_op(
    repository: Path, tmp_path: Path
) -> None:
    mount = tmp_path / "models"
    mount.mkdir()
    digest = repository_sha256(repository)
    fetch_repository(repository.as_uri(), mount, digest)
    assert sorted(p.name for p in mount.iterdir()) == ["wine"]
    again = fetch_repository(repository.as_uri(), mount, digest)
    assert again.already_present


def test_wrong_checksum_into_an_existing_directory_leaves_it_empty(
    repository: Path, tmp_path: Path
) -> None:
    mount = tmp_path / "models"
    mount.mkdir()
    with pytest.raises(ChecksumError):
        fetch_repository(repository.as_uri(), mount, "f" * 64)
    assert list(mount.iterdir()) == []


def test_non_empty_destination_with_other_content_is_refused(
    repository: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "other").write_text("x")
    with pytest.raises(FetchError, match="not empty"):
        fetch_repository(repository.as_uri(), dest, repository_sha256(repository))


def test_leftovers_of_an_interrupted_fetch_are_removed(repository: Path, tmp_path: Path) -> None:
    mount = tmp_path / "models"
    (mount / ".modelship-fetch-crashed" / "repository").mkdir(parents=True)
    fetch_repository(repository.as_uri(), mount, repository_sha256(repository))
    assert sorted(p.name for p in mount.iterdir()) == ["wine"]


def test_archive_with_a_link_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        link = tarfile.TarInfo("wine/config.pbtxt")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(FetchError, match="not a regular file"):
        fetch_repository(archive.as_uri(), tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_archive_escaping_the_destination_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        member = tarfile.TarInfo("../escaped")
        member.size = 1
        tar.addfile(member, io.BytesIO(b"x"))
    with pytest.raises(FetchError):
        fetch_repository(archive.as_uri(), tmp_path / "dest")
    assert not (tmp_path / "escaped").exists()
    assert not (tmp_path / "dest").exists()


def test_a_file_that_is_no_archive_is_one_line(tmp_path: Path) -> None:
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(b"not a tar at all")
    with pytest.raises(FetchError, match="is not a readable tar archive") as caught:
        fetch_repository(archive.as_uri(), tmp_path / "dest")
    assert "\n" not in str(caught.value)  # the CLI shows it as one Error: line
    assert not (tmp_path / "dest").exists()


def test_an_empty_archive_says_it_is_empty(tmp_path: Path) -> None:
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(b"")
    with pytest.raises(FetchError) as caught:
        fetch_repository(archive.as_uri(), tmp_path / "dest")
    assert str(caught.value) == (
        f"{archive.as_uri()} is empty (0 bytes), not a tar archive: upload it again"
    )
    assert not (tmp_path / "dest").exists()


def test_a_plain_path_is_told_to_be_a_file_uri(tmp_path: Path) -> None:
    with pytest.raises(FetchError) as caught:
        fetch_repository(str(tmp_path / "m.tar.gz"), tmp_path / "dest")
    assert (
        str(caught.value)
        == f"'{tmp_path}/m.tar.gz' is a path, not a uri: write file://{tmp_path}/m.tar.gz"
    )


def test_missing_source_and_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="does not exist"):
        fetch_repository((tmp_path / "nope").as_uri(), tmp_path / "dest")
    with pytest.raises(FetchError, match="not a sha256"):
        fetch_repository((tmp_path / "nope").as_uri(), tmp_path / "dest", "abc")
    with pytest.raises(FetchError, match="unsupported uri"):
        fetch_repository("ftp://host/x", tmp_path / "dest")
    with pytest.raises(FetchError, match="names no bucket"):
        fetch_repository("s3:///x", tmp_path / "dest")


def test_uris_are_shown_without_secrets() -> None:
    shown = redact_uri("https://user:secret@host:8443/m.tar.gz?X-Amz-Signature=abc")
    assert shown == "https://host:8443/m.tar.gz"
    assert parse_model_uri("s3://bucket/models/wine/").key == "models/wine/"
    assert parse_model_uri("https://h/m").is_archive
    assert not parse_model_uri("s3://b/models/wine").is_archive


def test_retries_only_transient_failures() -> None:
    calls: list[int] = []
    delays: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TransientFetchError("503")
        return "ok"

    assert with_retries(flaky, "x", sleep=delays.append) == "ok"
    assert delays == [0.5, 1.0]

    def permanent() -> str:
        calls.append(1)
        raise FetchError("404")

    calls.clear()
    with pytest.raises(FetchError, match="404"):
        with_retries(permanent, "x", sleep=delays.append)
    assert len(calls) == 1

    def always_transient() -> str:
        raise TransientFetchError("503")

    with pytest.raises(FetchError, match="failed after 3 attempts"):
        with_retries(always_transient, "download", attempts=3, sleep=lambda _: None)


def test_cli_contract(repository: Path, tmp_path: Path) -> None:
    digest = repository_sha256(repository)
    runner = CliRunner()
    ok = runner.invoke(
        main,
        ["fetch", "--uri", repository.as_uri(), "--dest", str(tmp_path / "d"), "--sha256", digest],
    )
    assert ok.exit_code == 0, ok.output
    assert digest in ok.output
    bad = runner.invoke(
        main,
        [
            "fetch",
            "--uri",
            repository.as_uri(),
            "--dest",
            str(tmp_path / "e"),
            "--sha256",
            "1" * 64,
        ],
    )
    assert bad.exit_code == 1
    assert "Error: sha256 mismatch" in bad.output
    assert "Traceback" not in bad.output


def test_model_file_not_matching_its_recorded_sha256_is_refused_even_without_sha256(
    repository: Path, tmp_path: Path
) -> None:
    import json as json_module

    (repository / "wine" / "modelship.json").write_text(
        json_module.dumps({"model_file": "1/model.onnx", "model_sha256": "0" * 64})
    )
    with pytest.raises(
        ChecksumError, match=r"does not match the sha256 its modelship\.json records"
    ):
        fetch_repository(repository.as_uri(), tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_rerun_without_sha256_accepts_its_own_complete_fetch(tmp_path: Path) -> None:
    from modelship_serving.digest import file_sha256

    source = tmp_path / "source"
    (source / "m" / "1").mkdir(parents=True)
    (source / "m" / "1" / "model.onnx").write_bytes(b"onnx")
    (source / "m" / "config.pbtxt").write_text('name: "m"\n')
    digest = file_sha256(source / "m" / "1" / "model.onnx")
    (source / "m" / "modelship.json").write_text(
        f'{{"model_file": "1/model.onnx", "model_sha256": "{digest}"}}'
    )
    mount = tmp_path / "models"
    mount.mkdir()
    fetch_repository(source.as_uri(), mount)
    assert fetch_repository(source.as_uri(), mount).already_present


def test_a_presigned_uri_from_the_credentials_secret_replaces_the_spec_uri(
    repository: Path, tmp_path: Path
) -> None:
    """The init container always gets --uri from the spec (which holds no query string);
    MODELSHIP_FETCH_URI, from the credentials Secret, carries the presigned one and wins."""
    dest = tmp_path / "dest"
    result = CliRunner().invoke(
        main,
        ["fetch", "--uri", "file:///spec/uri/is/replaced", "--dest", str(dest),
         "--sha256", repository_sha256(repository)],
        env={"MODELSHIP_FETCH_URI": f"file://{repository}"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert repository_sha256(dest) == repository_sha256(repository)
