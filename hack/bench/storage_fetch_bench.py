"""How fast `modelship fetch` brings a model repository from object storage.

A repository of FILES files of MIB MiB each (random bytes) is put under a prefix and as one
.tar.gz archive on moto's S3 server (a separate process, as a pod reaches S3 over the
network), and on Azurite when it is installed (hack/install-azurite.sh); each is fetched
REPEATS times into a fresh directory and the median wall time and MB/s are printed.
Run against any checkout's fetch code, so that two versions compare on the same machine:

    PYTHONPATH=tests:serving:operator python hack/bench/storage_fetch_bench.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from modelship_serving.fetch.archive import write_repository_archive
from modelship_serving.fetch.fetch import fetch_repository
from modelship_serving.triton.server import free_port
from support.http_servers import wait_for_port

FILES = 16
MIB = 8
REPEATS = 5


def make_repository(root: Path) -> int:
    for number in range(FILES):
        path = root / "model" / "1" / f"part-{number:02d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(MIB * 1024 * 1024))
    return FILES * MIB


def timed(uri: str, scratch: Path) -> float:
    times = []
    for attempt in range(REPEATS):
        destination = scratch / f"fetched-{uri.replace('://', '-').replace('/', '-')}-{attempt}"
        started = time.perf_counter()
        fetch_repository(uri, destination)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def report(name: str, seconds: float, megabytes: int) -> None:
    print(f"{name:<28} {seconds:7.2f} s  {megabytes / seconds:7.1f} MiB/s")


def bench_s3(repository: Path, archive: Path, scratch: Path, megabytes: int) -> None:
    import boto3

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, server)
        endpoint = f"http://127.0.0.1:{port}"
        os.environ.update(
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_REGION="us-east-1",
            AWS_ENDPOINT_URL=endpoint,
            AWS_EC2_METADATA_DISABLED="true",
        )
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        client.create_bucket(Bucket="bench")
        for path in sorted(repository.rglob("*")):
            if path.is_file():
                key = f"repo/{path.relative_to(repository).as_posix()}"
                client.upload_file(str(path), "bench", key)
        client.upload_file(str(archive), "bench", "repo.tar.gz")
        report("s3 prefix", timed("s3://bench/repo", scratch), megabytes)
        report("s3 archive", timed("s3://bench/repo.tar.gz", scratch), megabytes)
    finally:
        server.terminate()
        server.wait(timeout=10)


def bench_azure(repository: Path, archive: Path, scratch: Path, megabytes: int) -> None:
    from support.azurite import azurite_executable, connection_string, running_azurite

    if azurite_executable() is None:
        print("az: skipped, Azurite is not installed (hack/install-azurite.sh)")
        return
    with running_azurite(scratch) as endpoint:
        os.environ["AZURE_STORAGE_CONNECTION_STRING"] = connection_string(endpoint)
        from modelship_serving.storage.filesystems import filesystem

        store = filesystem("az")
        store.create_dir("bench")
        for path in sorted(repository.rglob("*")):
            if path.is_file():
                key = f"bench/repo/{path.relative_to(repository).as_posix()}"
                with store.open_output_stream(key, compression=None) as stream:
                    stream.write(path.read_bytes())
        with store.open_output_stream("bench/repo.tar.gz", compression=None) as stream:
            stream.write(archive.read_bytes())
        report("az prefix", timed("az://bench/repo", scratch), megabytes)
        report("az archive", timed("az://bench/repo.tar.gz", scratch), megabytes)


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        scratch = Path(work)
        repository = scratch / "repository"
        megabytes = make_repository(repository)
        archive = scratch / "repo.tar.gz"
        write_repository_archive(repository, archive)
        print(f"{FILES} files of {MIB} MiB ({megabytes} MiB), median of {REPEATS} fetches")
        bench_s3(repository, archive, scratch, megabytes)
        if "modelship_serving.storage" in sys.modules or _has_storage():
            bench_azure(repository, archive, scratch, megabytes)


def _has_storage() -> bool:
    import importlib.util

    return importlib.util.find_spec("modelship_serving.storage") is not None


if __name__ == "__main__":
    main()
