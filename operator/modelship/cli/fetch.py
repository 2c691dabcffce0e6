"""`modelship fetch`: what the init container runs to bring a model repository into the pod."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click
from modelship_serving.cli_support import user_errors

from modelship.cli.options import fetch_limit_options

# A presigned model URL, from the credentials Secret: it replaces --uri.
FETCH_URI_ENV = "MODELSHIP_FETCH_URI"


@click.command(
    help="Fetch the model repository at --uri into --dest, verify its sha256, and move it into"
    " place only when complete and verified. URI: file:///dir, file:///x.tar.gz,"
    " http(s)://host/x.tar.gz, s3://bucket/prefix[.tar.gz], gs://bucket/prefix[.tar.gz],"
    " az://container/prefix[.tar.gz]."
    " Credentials only from the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,"
    " AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT_URL (s3); GOOGLE_APPLICATION_CREDENTIALS (gs);"
    " AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_NAME with"
    " AZURE_STORAGE_ACCOUNT_KEY, AZURE_STORAGE_SAS_TOKEN or workload identity (az);"
    " MODELSHIP_HTTP_AUTHORIZATION (http). The sha256 is modelship_serving.digest's repository"
    " digest, as printed by `modelship package`."
)
@click.option(
    "--uri",
    required=True,
    help="Where the model repository is. MODELSHIP_FETCH_URI, when set (from the credentials"
    " Secret), replaces it: a presigned URL never appears in the pod's spec.",
)
@click.option(
    "--dest",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory to create (or an empty one to fill), e.g. the emptyDir mount.",
)
@click.option("--sha256", "expected_sha256", help="Expected repository digest (64 hex digits).")
@fetch_limit_options
def fetch(
    uri: str,
    dest: Path,
    expected_sha256: str | None,
    max_bytes: int,
    timeout_seconds: float,
) -> None:
    """See the help text above."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with user_errors():
        from modelship_serving.fetch.fetch import fetch_repository
        from modelship_serving.fetch.limits import FetchBudget

        budget = FetchBudget(max_bytes=max_bytes, timeout_seconds=timeout_seconds)
        uri = os.environ.get(FETCH_URI_ENV) or uri
        result = fetch_repository(uri, dest, expected_sha256, budget)
    state = "already present" if result.already_present else "fetched"
    verified = "verified" if expected_sha256 else "not verified: no --sha256 given"
    click.echo(
        f"{state}: {result.files} files in {result.destination},"
        f" sha256 {result.sha256} ({verified})"
    )
