"""An in-process S3 (moto's threaded server) for unit tests, reached with fake keys and no AWS
configuration; the code under test finds it through AWS_ENDPOINT_URL, as a pod would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from modelship_serving.triton.server import free_port
from moto.server import ThreadedMotoServer


@contextmanager
def in_process_s3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *buckets: str) -> Iterator[Any]:
    """moto's S3 with ``buckets`` created; yields a boto3 client of it."""
    for variable in ("AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        client = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint)
        for bucket in buckets:
            client.create_bucket(Bucket=bucket)
        yield client
    finally:
        server.stop()
