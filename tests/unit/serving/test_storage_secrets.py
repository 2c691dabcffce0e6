"""No credential of object storage travels into a message a user, a log or a pod's
termination message shows.

Proves: a real pyarrow error, which quotes the url it failed on with the SAS token pyarrow
appended, comes out of the storage layer as a one-line FetchError without the signature,
whatever Arrow exception class carries it; presigned S3/GCS signatures, an STS session
token and an account key quoted from a connection string are masked even when they are
not the environment's; no traceback of a store error (its chained causes) shows the
signature; a --push uri that cannot be parsed is named without its password.
"""

from __future__ import annotations

import traceback

import pytest
from modelship_serving.errors import FetchError, PackagingError
from modelship_serving.fetch.uri import parse_model_uri
from modelship_serving.packaging.push import push_target
from modelship_serving.storage import objects
from modelship_serving.storage.filesystems import scrub_secrets
from modelship_serving.storage.objects import translate

SIGNATURE = "Zm9yZ2VkLXNpZ25hdHVyZQ%3D%3D"


def _arrow_error_quoting_the_sas_url() -> Exception:
    """What pyarrow raises when an Azure store cannot be reached with a SAS token."""
    pytest.importorskip("pyarrow._azurefs", reason="this pyarrow has no Azure filesystem")
    from pyarrow.fs import AzureFileSystem

    unreachable = "127.0.0.1:1"  # nothing listens: fails at once, no network needed
    fs = AzureFileSystem(
        account_name="lake",
        sas_token=f"?sv=2024-01-01&sp=r&sig={SIGNATURE}",
        blob_storage_authority=unreachable,
        blob_storage_scheme="http",
        dfs_storage_authority=unreachable,
        dfs_storage_scheme="http",
    )
    try:
        fs.get_file_info("models/churn.tar.gz")
    except Exception as error:
        return error
    raise AssertionError("an unreachable store answered")


def test_a_real_arrow_error_loses_its_sas_signature() -> None:
    error = _arrow_error_quoting_the_sas_url()
    assert SIGNATURE in str(error)  # what we guard against: Arrow quotes it
    uri = parse_model_uri("az://models/churn.tar.gz")

    translated = translate(error, uri, uri.redacted())

    assert isinstance(translated, FetchError)
    assert SIGNATURE not in str(translated)
    assert "az://models/churn.tar.gz" in str(translated)


def test_arrows_own_exception_class_is_scrubbed_too() -> None:
    pyarrow_lib = pytest.importorskip("pyarrow.lib")
    # pyarrow raises the bare ArrowException for "Unknown error" (neither OSError nor
    # ValueError), e.g. an account key that is no base64.
    error = pyarrow_lib.ArrowException(
        f"Unknown error: Check failed on 'https://lake.blob.core.windows.net/c?sig={SIGNATURE}'"
    )
    uri = parse_model_uri("az://c/m.tar.gz")

    translated = translate(error, uri, uri.redacted())

    assert isinstance(translated, FetchError)
    assert SIGNATURE not in str(translated)


@pytest.mark.parametrize(
    "quoted",
    [
        f"https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA&X-Amz-Security-Token={SIGNATURE}",
        f"https://storage.googleapis.com/b/k?X-Goog-Algorithm=x&X-Goog-Signature={SIGNATURE}",
        f"DefaultEndpointsProtocol=https;AccountName=lake;AccountKey={SIGNATURE};",
        f"BlobEndpoint=https://lake;SharedAccessSignature={SIGNATURE}",
    ],
    ids=["sts-session-token", "gcs-signature", "account-key", "connection-string-sas"],
)
def test_credentials_quoted_in_a_message_are_masked_wherever_they_came_from(
    quoted: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_SAS_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    shown = scrub_secrets(f"request failed: {quoted}")
    assert SIGNATURE not in shown
    assert "***" in shown


def test_an_unparseable_push_uri_is_named_without_its_password() -> None:
    with pytest.raises(PackagingError) as refused:
        push_target("htps://publisher:hunter2-secret@models.example.com/churn-3.tar.gz")
    assert "hunter2-secret" not in str(refused.value)
    assert "models.example.com" in str(refused.value)


def test_no_traceback_of_a_store_error_shows_the_signature() -> None:
    # A refusal (not retried), quoting the url as Arrow does.
    error = OSError(
        "GetProperties failed for 'https://lake.blob.core.windows.net/models/churn.tar.gz"
        f"?sig={SIGNATURE}&sv=1'. Azure Error: [AuthorizationFailure] 403"
    )
    uri = parse_model_uri("az://models/churn.tar.gz")

    def failing() -> None:
        raise error

    with pytest.raises(FetchError) as raised:
        objects._call(uri, failing)

    printed = "".join(traceback.format_exception(raised.value))
    assert SIGNATURE not in printed
    assert "az://models/churn.tar.gz" in printed
