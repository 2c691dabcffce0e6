"""s3:// uris: a prefix holding the repository's files, or one archive object.

The client takes its credentials, region and endpoint from the environment
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION,
AWS_ENDPOINT_URL), as boto3 does by itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from modelship_serving.errors import FetchError
from modelship_serving.fetch.archive import extract_repository_archive
from modelship_serving.fetch.limits import (
    CHUNK_BYTES,
    READ_TIMEOUT_SECONDS,
    FetchBudget,
    disk_bytes,
    mkdir_charged,
)
from modelship_serving.fetch.retry import TransientFetchError, call_with_retries
from modelship_serving.fetch.uri import ModelUri

_MISSING_CODES = frozenset({"404", "NoSuchKey", "NoSuchBucket", "NotFound"})
_CREDENTIAL_CODES = frozenset(
    {
        "403",
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "AuthorizationHeaderMalformed",
    }
)
_TRANSIENT_CODES = frozenset(
    {
        "500",
        "502",
        "503",
        "504",
        "InternalError",
        "SlowDown",
        "ServiceUnavailable",
        "RequestTimeout",
    }
)


def s3_client(read_timeout: float = READ_TIMEOUT_SECONDS) -> Any:
    """A boto3 S3 client configured from the environment only."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError as error:
        raise FetchError("s3:// needs boto3: install modelship[storage]") from error
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    config = Config(
        retries={"max_attempts": 3, "mode": "standard"},
        # S3-compatible servers (MinIO, moto) rarely have virtual-host bucket DNS.
        s3={"addressing_style": "path"} if endpoint else {},
        connect_timeout=10,
        read_timeout=read_timeout,
    )
    # A fresh session reads the environment now; boto3's default session caches credentials.
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=endpoint or None, region_name=region, config=config)


def _translate(error: Exception, shown: str) -> Exception:
    """A FetchError (or TransientFetchError) that says what to fix for a botocore error."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return FetchError(
            f"no usable S3 credentials for {shown}: set AWS_ACCESS_KEY_ID and"
            " AWS_SECRET_ACCESS_KEY (from the credentials Secret)"
        )
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in _MISSING_CODES:
            return FetchError(f"{shown} does not exist ({code}); check the bucket and key")
        if code in _CREDENTIAL_CODES:
            return FetchError(
                f"S3 refused access to {shown} ({code}); check the credentials Secret"
                " (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and the bucket policy"
            )
        if code in _TRANSIENT_CODES:
            return TransientFetchError(f"S3 answered {code} for {shown}")
        return FetchError(f"S3 error for {shown}: {code}")
    if isinstance(error, EndpointConnectionError | BotoCoreError | ConnectionError):
        return TransientFetchError(f"cannot reach S3 for {shown}: {error}")
    return error


def _call(action: Any, shown: str) -> Any:
    return call_with_retries(
        action, lambda error: _translate(error, shown), f"S3 request for {shown}"
    )


def _download_object(
    client: Any, bucket: str, key: str, destination: Path, budget: FetchBudget
) -> None:
    """Stream one object to ``destination`` under the budget (botocore checks that the whole
    Content-Length arrived), retrying transient failures."""
    shown = f"s3://{bucket}/{key}"

    def attempt() -> None:
        budget.check_time(f"downloading {shown}")
        try:
            answer = client.get_object(Bucket=bucket, Key=key)
            body = answer["Body"]
            try:
                # Refuse what cannot fit before taking a byte; the stream is counted too.
                budget.ensure_room(disk_bytes(int(answer.get("ContentLength", 0))), shown)
                budget.write_stream(body.iter_chunks(CHUNK_BYTES), destination, shown)
            finally:
                body.close()
        except FetchError:
            raise
        except Exception:
            budget.check_time(f"downloading {shown}")  # a read cut short by the deadline
            raise

    _call(attempt, shown)


def download_s3_uri(uri: ModelUri, target: Path, scratch: Path, budget: FetchBudget) -> None:
    """Download the archive object, or every object under the prefix, into ``target``."""
    client = s3_client(budget.read_timeout())
    bucket, shown = uri.host, uri.redacted()
    if uri.is_archive:
        archive = scratch / "repository.tar"
        _download_object(client, bucket, uri.key, archive, budget)
        extract_repository_archive(archive, target, shown, budget)
        return

    def list_keys() -> list[str]:
        paginator = client.get_paginator("list_objects_v2")
        return [
            item["Key"]
            for page in paginator.paginate(Bucket=bucket, Prefix=uri.key_prefix)
            for item in page.get("Contents", [])
            if not item["Key"].endswith("/")  # "directory" placeholder objects
        ]

    keys: list[str] = _call(list_keys, shown)
    if not keys:
        raise FetchError(f"{shown} holds no objects; check the bucket and prefix")
    for key, destination in uri.object_destinations(keys, target):
        mkdir_charged(destination.parent, budget, key)
        _download_object(client, bucket, key, destination, budget)


def download_s3_object(uri: ModelUri, destination: Path) -> None:
    """Download one object to ``destination``."""
    client = s3_client()
    _call(lambda: client.download_file(uri.host, uri.key, str(destination)), uri.redacted())


def upload_s3_object(source: Path, uri: ModelUri) -> None:
    """Upload one file as an object (S3 makes it visible only once complete)."""
    client = s3_client()
    _call(lambda: client.upload_file(str(source), uri.host, uri.key), uri.redacted())


def s3_object_exists(uri: ModelUri) -> bool:
    """Whether the object exists."""
    from botocore.exceptions import ClientError

    client = s3_client()

    def head() -> bool:
        try:
            client.head_object(Bucket=uri.host, Key=uri.key)
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code", "")) in (
                "404",
                "NoSuchKey",
                "NotFound",
            ):
                return False
            raise
        return True

    result: bool = _call(head, uri.redacted())
    return result
