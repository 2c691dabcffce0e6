"""`modelship package --push URI` uploads the archive to S3 (moto, IAM auth on), GCS (the
emulator), Azure Blob Storage (Azurite), a file:// path or an http(s) server that accepts
PUT, and prints a ModelDeployment whose uri, version and sha256 `modelship fetch` installs
as is. A version is published once; a push that fails leaves nothing behind."""

from __future__ import annotations

import http.server
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from click.testing import CliRunner, Result
from modelship.cli import main
from support import model_zoo as zoo
from support.http_servers import serving


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A converted classifier and its sample (and, in the file:// test, a fallback one)."""
    work = tmp_path_factory.mktemp("to-push")
    fitted = zoo.ZOO[[case.name for case in zoo.ZOO].index("logistic-regression-mixed")].build()
    fitted.write(work / "model.joblib", work / "sample.parquet")
    return work / "model.joblib", work / "sample.parquet"


def package_and_push(model_files: tuple[Path, Path], output: Path, uri: str) -> Result:
    model, sample = model_files
    return CliRunner().invoke(
        main,
        ["package", str(model), "--sample", str(sample), "--name", "churn", "--version", "3",
         "--output", str(output), "--push", uri],
    )  # fmt: skip


def deployment_in(output: str) -> dict[str, Any]:
    """The ModelDeployment the command printed after 'Pushed to'."""
    snippet = output.split("a ModelDeployment that serves it:\n", 1)[1]
    loaded: dict[str, Any] = yaml.safe_load(snippet)
    return loaded


def assert_fetch_installs(deployment: dict[str, Any], destination: Path) -> None:
    model = deployment["spec"]["model"]
    fetched = CliRunner().invoke(
        main, ["fetch", "--uri", model["uri"], "--dest", str(destination),
               "--sha256", model["sha256"]],
    )  # fmt: skip
    assert fetched.exit_code == 0, fetched.output
    assert (destination / "churn" / model["version"] / "model.onnx").is_file()


def assert_round_trip(model_files: tuple[Path, Path], tmp_path: Path, uri: str) -> None:
    pushed = package_and_push(model_files, tmp_path / "repo", uri)
    assert pushed.exit_code == 0, pushed.output
    deployment = deployment_in(pushed.output)
    assert deployment["kind"] == "ModelDeployment"
    assert deployment["spec"]["model"]["name"] == "churn"
    assert deployment["spec"]["model"]["version"] == "3"
    assert deployment["spec"]["model"]["uri"] == uri
    assert f"sha256: {deployment['spec']['model']['sha256']}" in pushed.output
    assert_fetch_installs(deployment, tmp_path / "fetched")
    # Published once: a second push of the same uri is refused before packaging.
    again = package_and_push(model_files, tmp_path / "again", uri)
    assert again.exit_code == 1
    assert "already exists; a published version is never replaced" in again.output
    assert len(again.output.strip().splitlines()) == 1
    assert not (tmp_path / "again").exists()


def test_push_to_s3_round_trips_through_fetch(
    model_files: tuple[Path, Path], s3_environment: Any, tmp_path: Path
) -> None:
    client = s3_environment.client()
    if "pushed" not in [bucket["Name"] for bucket in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket="pushed")
    assert_round_trip(model_files, tmp_path, "s3://pushed/churn/churn-3.tar.gz")


def test_push_to_gcs_round_trips_through_fetch(
    model_files: tuple[Path, Path], gcs_models: Any, tmp_path: Path
) -> None:
    assert_round_trip(model_files, tmp_path, "gs://models/pushed/churn-3.tar.gz")


def test_push_to_azure_round_trips_through_fetch(
    model_files: tuple[Path, Path], azure_models: Any, tmp_path: Path
) -> None:
    assert_round_trip(model_files, tmp_path, "az://models/pushed/churn-3.tar.gz")


def test_push_to_a_file_uri_round_trips_through_fetch(
    model_files: tuple[Path, Path], tmp_path: Path
) -> None:
    (tmp_path / "store").mkdir()
    assert_round_trip(model_files, tmp_path, f"file://{tmp_path}/store/churn-3.tar.gz")


class _PutStore(http.server.BaseHTTPRequestHandler):
    """Keeps what is PUT and serves it back, unless `serves_back` is off."""

    objects: ClassVar[dict[str, bytes]] = {}
    serves_back = True

    def do_PUT(self) -> None:
        length = int(self.headers["Content-Length"])
        _PutStore.objects[self.path] = self.rfile.read(length)
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        body = _PutStore.objects.get(self.path)
        if body is None or not _PutStore.serves_back:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def put_server() -> Iterator[str]:
    _PutStore.objects, _PutStore.serves_back = {}, True
    with serving(_PutStore) as url:
        yield url


def test_push_by_http_put_counts_once_fetch_reads_it_back(
    model_files: tuple[Path, Path], put_server: str, tmp_path: Path
) -> None:
    uri = f"{put_server}/churn-3.tar.gz"
    pushed = package_and_push(model_files, tmp_path / "repo", uri)
    assert pushed.exit_code == 0, pushed.output
    assert_fetch_installs(deployment_in(pushed.output), tmp_path / "fetched")


def test_a_put_that_is_not_served_back_is_refused_and_leaves_nothing(
    model_files: tuple[Path, Path], put_server: str, tmp_path: Path
) -> None:
    _PutStore.serves_back = False
    pushed = package_and_push(model_files, tmp_path / "repo", f"{put_server}/churn-3.tar.gz")
    assert pushed.exit_code == 1
    assert "cannot read it back" in pushed.output
    assert len(pushed.output.strip().splitlines()) == 1
    assert not (tmp_path / "repo").exists()


@pytest.mark.parametrize(
    ("uri", "said"),
    [
        ("s3://pushed/churn/3/", "must name a .tar.gz archive"),
        ("ftp://host/churn-3.tar.gz", "ftp"),
        ("file:///no/such/dir/churn-3.tar.gz", "does not exist; create it first"),
    ],
)
def test_a_push_uri_fetch_cannot_read_is_refused_before_packaging(
    model_files: tuple[Path, Path], uri: str, said: str, tmp_path: Path
) -> None:
    pushed = package_and_push(model_files, tmp_path / "repo", uri)
    assert pushed.exit_code == 1
    assert said in pushed.output
    assert len(pushed.output.strip().splitlines()) == 1
    assert not (tmp_path / "repo").exists()
