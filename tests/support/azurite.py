"""Azurite, Microsoft's Azure Storage emulator, for the az:// tests: found where
hack/install-azurite.sh installs it, started on a free port with its well-known development
account, and reached the way a pod reaches Azure (AZURE_STORAGE_CONNECTION_STRING)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from modelship_serving.triton.server import free_port

from support.http_servers import wait_for_port

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "devstoreaccount1"
# Azurite's published development key (https://learn.microsoft.com/azure/storage/common/
# storage-use-azurite), the same on every install: not a secret.
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZURE_VARIABLES = (
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_ACCOUNT_NAME",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_BLOB_ENDPOINT",
)


def azurite_executable() -> Path | None:
    folder = Path(os.environ.get("MODELSHIP_AZURITE_DIR", ROOT / ".tools" / "azurite"))
    executable = folder / "node_modules" / ".bin" / "azurite-blob"
    return executable if executable.is_file() else None


def connection_string(endpoint: str, key: str = KEY) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={key};"
        f"BlobEndpoint={endpoint}/{ACCOUNT};"
    )


@contextmanager
def running_azurite(scratch: Path) -> Iterator[str]:
    """Azurite's blob service on 127.0.0.1, in memory; yields its endpoint url. Skips the
    test, saying why, when Azurite is not installed."""
    executable = azurite_executable()
    if executable is None:
        pytest.skip("Azurite is not installed: run hack/install-azurite.sh (needs Node.js/npm)")
    port = free_port()
    process = subprocess.Popen(
        [
            str(executable),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--silent",
        ],
        cwd=scratch,  # where Azurite writes its debug and account files
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # Azurite may wait on open connections
            process.kill()
            process.wait(timeout=5)


def use_azurite(monkeypatch: pytest.MonkeyPatch, endpoint: str, *containers: str) -> Any:
    """Point the environment at Azurite, as the credentials Secret would, with ``containers``
    created; returns a pyarrow filesystem of the account for the test's own reads and writes."""
    from pyarrow.fs import AzureFileSystem, FileType

    for variable in AZURE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection_string(endpoint))
    authority = endpoint.split("://", 1)[1]
    filesystem = AzureFileSystem(
        account_name=ACCOUNT,
        account_key=KEY,
        blob_storage_authority=authority,
        blob_storage_scheme="http",
        dfs_storage_authority=authority,
        dfs_storage_scheme="http",
    )
    for container in containers:
        if filesystem.get_file_info(container).type == FileType.NotFound:
            filesystem.create_dir(container)
    return filesystem
