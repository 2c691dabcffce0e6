"""Where a scoring job publishes: a local folder and an object-storage prefix (S3, moto in
process) behave alike through one interface. Each case of one table runs against both: files
written are read back whole, copies leave their source, moves do not, deletes of missing files
are quiet, a folder inside sees what its parent sees, and a file is at hand on this machine
either as itself or as a download. Then what differs on purpose: where work in progress is kept
so that a retried pod finds it, and which uri names which folder and file."""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from modelship_serving.scoring.destination import (
    Destination,
    LocalDestination,
    ObjectStoreDestination,
    locate,
)
from support.object_store import in_process_s3


@pytest.fixture
def object_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """An in-process S3 with a bucket `batch`, and no AWS configuration but fake keys."""
    with in_process_s3(monkeypatch, tmp_path, "batch"):
        yield


@pytest.fixture(params=["local", "s3"])
def destination(request: pytest.FixtureRequest, tmp_path: Path) -> Destination:
    if request.param == "local":
        return LocalDestination(tmp_path / "published" / "day1")
    request.getfixturevalue("object_store")
    return ObjectStoreDestination("s3://batch/published/day1")


def source_file(tmp_path: Path, content: bytes = b"row,label\n0,yes\n") -> Path:
    path = tmp_path / "here" / "scores.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def write_then_read(destination: Destination, tmp_path: Path) -> None:
    assert not destination.exists("a.json")
    assert destination.read_text("a.json") is None
    destination.write_text("a.json", '{"rows": 3}')
    assert destination.exists("a.json")
    assert destination.read_text("a.json") == '{"rows": 3}'
    destination.write_text("a.json", '{"rows": 4}')  # rewritten whole
    assert destination.read_text("a.json") == '{"rows": 4}'


def put_copies_and_get_reads_back(destination: Destination, tmp_path: Path) -> None:
    source = source_file(tmp_path)
    destination.put_file(source, "scores.csv")
    assert source.read_bytes() == b"row,label\n0,yes\n"  # the source stays
    target = tmp_path / "back" / "scores.csv"
    destination.get_file("scores.csv", target)
    assert target.read_bytes() == source.read_bytes()


def move_publishes_and_removes_the_source(destination: Destination, tmp_path: Path) -> None:
    staged = destination.staging_dir(tmp_path / "scratch") / ".scores.csv.tmp"
    staged.parent.mkdir(parents=True, exist_ok=True)
    staged.write_bytes(b"all rows")
    destination.move_file(staged, "scores.csv")
    assert not staged.exists()
    assert destination.read_text("scores.csv") == "all rows"


def delete_is_quiet_when_missing(destination: Destination, tmp_path: Path) -> None:
    destination.write_text("a.json", "{}")
    destination.rm_file("a.json")
    assert not destination.exists("a.json")
    destination.rm_file("a.json")  # already gone: not an error
    destination.rm_file("never.json")


def a_child_folder_is_inside_its_parent(destination: Destination, tmp_path: Path) -> None:
    child = destination.child(".scores.csv.partial")
    child.write_text("state.json", "{}")
    assert destination.exists(".scores.csv.partial/state.json")
    assert child.show("state.json") == destination.show(".scores.csv.partial/state.json")
    assert destination.show("x.csv").endswith("published/day1/x.csv")


def a_file_is_at_hand_on_this_machine(destination: Destination, tmp_path: Path) -> None:
    destination.put_file(source_file(tmp_path, b"payload"), "in.csv")
    copy = tmp_path / "work" / "input-in.csv"
    at_hand = destination.local_file("in.csv", copy)
    assert at_hand.read_bytes() == b"payload"
    assert at_hand == copy or not copy.exists()  # a download or the file itself, never both


CASES: list[Callable[[Destination, Path], None]] = [
    write_then_read,
    put_copies_and_get_reads_back,
    move_publishes_and_removes_the_source,
    delete_is_quiet_when_missing,
    a_child_folder_is_inside_its_parent,
    a_file_is_at_hand_on_this_machine,
]


@pytest.mark.parametrize("case", CASES, ids=[case.__name__ for case in CASES])
def test_both_destinations_behave_alike(
    case: Callable[[Destination, Path], None], destination: Destination, tmp_path: Path
) -> None:
    case(destination, tmp_path)


def test_a_local_move_across_filesystems_still_publishes_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    destination = LocalDestination(tmp_path / "volume")
    staged = source_file(tmp_path, b"all rows")
    original_replace = Path.replace

    def cross_device(self: Path, target: str | Path) -> Path:
        if self == staged:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return original_replace(self, target)

    monkeypatch.setattr(Path, "replace", cross_device)
    destination.move_file(staged, "scores.csv")
    assert (tmp_path / "volume" / "scores.csv").read_bytes() == b"all rows"
    assert not staged.exists()
    assert [p.name for p in (tmp_path / "volume").iterdir()] == ["scores.csv"]


def test_a_missing_local_file_is_not_at_hand(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        LocalDestination(tmp_path).local_file("absent.csv", tmp_path / "copy.csv")


def test_work_in_progress_is_kept_where_a_retried_pod_finds_it(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    local = LocalDestination(tmp_path / "out")
    # Beside a local output the work directory itself outlives the pod: no mirror.
    assert local.partial_work(".s.csv.partial", None, scratch) == (
        tmp_path / "out" / ".s.csv.partial",
        None,
    )
    assert local.partial_work(".s.csv.partial", tmp_path / "w", scratch) == (tmp_path / "w", None)
    # In object storage the work directory is scratch; the mirror beside the output is kept.
    store = ObjectStoreDestination("s3://batch/out")
    work, mirror = store.partial_work(".s.csv.partial", None, scratch)
    assert work == scratch
    assert mirror is not None
    assert mirror.show() == "s3://batch/out/.s.csv.partial"
    assert store.partial_work(".s.csv.partial", tmp_path / "w", scratch)[0] == tmp_path / "w"


@pytest.mark.parametrize(
    ("uri", "kind", "folder", "name", "file_name"),
    [
        ("scores.csv", LocalDestination, ".", "scores.csv", "scores.csv"),
        ("/data/out/scores.csv", LocalDestination, "/data/out", "scores.csv", "scores.csv"),
        ("file:///data/out/s.csv", LocalDestination, "/data/out", "s.csv", "s.csv"),
        (
            "s3://batch/out/s.parquet",
            ObjectStoreDestination,
            "s3://batch/out",
            "s.parquet",
            "s.parquet",
        ),
        ("gs://models/s.jsonl", ObjectStoreDestination, "gs://models", "s.jsonl", "s.jsonl"),
        (
            "https://host/in/day.csv?X-Amz-Signature=secret",
            ObjectStoreDestination,
            "https://host/in",
            "day.csv?X-Amz-Signature=secret",
            "day.csv",
        ),
    ],
)
def test_a_uri_names_a_folder_and_a_file(
    uri: str, kind: type, folder: str, name: str, file_name: str
) -> None:
    location = locate(uri)
    assert isinstance(location.folder, kind)
    assert (location.folder.show(), location.name, location.file_name) == (folder, name, file_name)
    assert "secret" not in location.show()
