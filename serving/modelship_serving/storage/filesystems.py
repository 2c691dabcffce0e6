"""One pyarrow filesystem per object-store scheme, configured from the environment only.

pyarrow.fs serves s3://, gs:// and az:// with one interface (list, open, write, delete) that
Arrow's dataset machinery reads directly, and it is a dependency already: no SDK per store.
Credentials and endpoints come only from the variables the credentials Secret fills:

- s3: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN`` (or the pod's
  web identity), ``AWS_REGION``, and ``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL`` for
  S3-compatible servers (MinIO).
- gs: ``GOOGLE_APPLICATION_CREDENTIALS`` (a service-account key file) or workload identity;
  ``STORAGE_EMULATOR_HOST`` for an emulator, reached anonymously.
- az: ``AZURE_STORAGE_CONNECTION_STRING``, or ``AZURE_STORAGE_ACCOUNT_NAME`` with
  ``AZURE_STORAGE_ACCOUNT_KEY`` or ``AZURE_STORAGE_SAS_TOKEN``, or the account name alone
  with workload identity (Azure's default credential: ``AZURE_CLIENT_ID``,
  ``AZURE_TENANT_ID``, ``AZURE_FEDERATED_TOKEN_FILE``).
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from modelship_serving.errors import FetchError

# Bearer secrets as they stand in urls and connection strings a message may quote: Azure's
# SAS signature and account key, S3's and GCS's presigned signatures, an STS session token.
_SIGNATURE = re.compile(
    r"\b(sig|Signature|X-Amz-Signature|X-Amz-Security-Token|X-Goog-Signature|AccountKey"
    r"|SharedAccessSignature)=[^&;\"'\s]+",
    re.IGNORECASE,
)
CONNECT_TIMEOUT_SECONDS = 10.0
REQUEST_TIMEOUT_SECONDS = 60.0

# Every value these hold is a secret: never shown, whatever a library puts in its message.
SECRET_VARIABLES = (
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_CLIENT_SECRET",
)


def _endpoint(url: str) -> tuple[str, str]:
    """(host[:port], scheme) of an endpoint url such as ``http://127.0.0.1:9000``."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    return parts.netloc, parts.scheme or "https"


def _s3() -> Any:
    from pyarrow.fs import S3FileSystem

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    options: dict[str, Any] = {}
    if endpoint:
        options["endpoint_override"], options["scheme"] = _endpoint(endpoint)
    return S3FileSystem(
        region=region,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        request_timeout=REQUEST_TIMEOUT_SECONDS,
        **options,
    )


def _gcs() -> Any:
    from pyarrow.fs import GcsFileSystem

    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    if emulator:
        host, scheme = _endpoint(emulator)
        return GcsFileSystem(anonymous=True, endpoint_override=host, scheme=scheme)
    credentials = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if credentials and not os.path.isfile(credentials):
        raise FetchError(
            "no usable Google Cloud credentials: GOOGLE_APPLICATION_CREDENTIALS names no file;"
            " mount the service-account key from the credentials Secret"
        )
    return GcsFileSystem(retry_time_limit=timedelta(seconds=REQUEST_TIMEOUT_SECONDS))


def _connection_string_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for item in text.split(";"):
        name, equals, value = item.partition("=")
        if equals:
            fields[name.strip()] = value.strip()
    return fields


def _azure() -> Any:
    from pyarrow.fs import AzureFileSystem

    fields = _connection_string_fields(os.environ.get("AZURE_STORAGE_CONNECTION_STRING", ""))
    account = fields.get("AccountName") or os.environ.get("AZURE_STORAGE_ACCOUNT_NAME")
    if not account:
        raise FetchError(
            "az:// needs the storage account: set AZURE_STORAGE_ACCOUNT_NAME (or"
            " AZURE_STORAGE_CONNECTION_STRING) from the credentials Secret"
        )
    options: dict[str, Any] = {"account_name": account}
    key = fields.get("AccountKey") or os.environ.get("AZURE_STORAGE_ACCOUNT_KEY")
    sas = fields.get("SharedAccessSignature") or os.environ.get("AZURE_STORAGE_SAS_TOKEN")
    if key:
        options["account_key"] = key
    elif sas:
        options["sas_token"] = "?" + sas.lstrip("?")  # pyarrow appends it to each url
    endpoint = fields.get("BlobEndpoint") or os.environ.get("AZURE_STORAGE_BLOB_ENDPOINT")
    if endpoint:
        # An emulator (Azurite) or a sovereign cloud; there is no separate Data Lake
        # endpoint to ask about hierarchical namespaces, so both name the blob endpoint.
        authority, scheme = _endpoint(endpoint)
        options.update(
            blob_storage_authority=authority,
            blob_storage_scheme=scheme,
            dfs_storage_authority=authority,
            dfs_storage_scheme=scheme,
        )
    return AzureFileSystem(**options)


def filesystem(scheme: str) -> Any:
    """A pyarrow FileSystem for ``scheme`` (s3, gs, az), configured from the environment now.
    Its paths are ``BUCKET/KEY`` (``CONTAINER/KEY`` for az)."""
    try:
        import pyarrow.fs  # noqa: F401
    except ImportError as error:
        raise FetchError(f"{scheme}:// needs pyarrow: install modelship[storage]") from error
    if scheme == "s3":
        return _s3()
    if scheme == "gs":
        return _gcs()
    if scheme == "az":
        return _azure()
    raise FetchError(f"{scheme}:// is not object storage: use one of s3://, gs://, az://")


def scrub_secrets(text: str) -> str:
    """``text`` with every secret of the environment (and any SAS signature) masked."""
    for variable in SECRET_VARIABLES:
        value = os.environ.get(variable, "")
        pieces = [value]
        if variable == "AZURE_STORAGE_CONNECTION_STRING":
            fields = _connection_string_fields(value)
            pieces += [fields.get("AccountKey", ""), fields.get("SharedAccessSignature", "")]
        for piece in pieces:
            if len(piece) >= 6:
                text = text.replace(piece, "***")
    return _SIGNATURE.sub(r"\1=***", text)
