"""The storage layer's messages: a store's error becomes one line that says what to fix (a
missing object, refused credentials, a failure worth retrying), and no secret of the
environment, nor a SAS signature, ever appears in it."""

from __future__ import annotations

import pytest
from modelship_serving.errors import FetchError
from modelship_serving.fetch.retry import TransientFetchError
from modelship_serving.fetch.uri import parse_model_uri
from modelship_serving.storage.filesystems import filesystem, scrub_secrets
from modelship_serving.storage.objects import translate

KEY = "c2VjcmV0LWtleS12YWx1ZS10aGF0LW11c3Qtbm90LWxlYWs="


def test_secrets_of_the_environment_and_signatures_are_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-secret")
    monkeypatch.setenv(
        "AZURE_STORAGE_CONNECTION_STRING",
        f"AccountName=lake;AccountKey={KEY};BlobEndpoint=https://lake.example.net",
    )
    text = scrub_secrets(
        f"failed for https://lake.example.net/c/x?sv=2024&sig=abc%2Fdef&se=1 key {KEY}"
        " and wJalrXUtnFEMI-secret"
    )
    assert KEY not in text
    assert "wJalrXUtnFEMI-secret" not in text
    assert "abc%2Fdef" not in text
    assert "sig=***" in text
    assert "lake.example.net" in text  # the account and endpoint are no secrets


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "AWS Error INVALID_ACCESS_KEY_ID during ListObjectsV2 operation: The AWS Access"
            " Key Id you provided does not exist in our records. (Request ID: Ab404Cd)",
            "refused access to s3://b/m (InvalidAccessKeyId)",
        ),
        ("Azure Error: [AuthorizationFailure] 403 Server failed to authenticate", "refused"),
        ("AWS Error NO_SUCH_BUCKET during ListObjectsV2", "does not exist"),
    ],
)
def test_a_store_error_says_what_to_fix(
    message: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    translated = translate(OSError(message), parse_model_uri("s3://b/m"), "s3://b/m")
    assert type(translated) is FetchError
    assert expected in str(translated)


@pytest.mark.parametrize(
    "message",
    [
        "AWS Error SLOW_DOWN during GetObject: Please reduce your request rate. (503)",
        "google::cloud::Status(UNAVAILABLE: Retry policy exhausted)",
        "Azure Error: [ServerBusy] 503 The server is busy",
        "Couldn't connect to server",
    ],
)
def test_throttling_and_outages_are_retried(message: str) -> None:
    uri = parse_model_uri("gs://b/m")
    assert isinstance(translate(OSError(message), uri, "gs://b/m"), TransientFetchError)


def test_a_missing_object_is_named() -> None:
    uri = parse_model_uri("az://models/m.tar.gz")
    translated = translate(FileNotFoundError("models/m.tar.gz"), uri, "az://models/m.tar.gz")
    assert str(translated) == "az://models/m.tar.gz does not exist; check the bucket and key"


def test_azure_needs_its_account(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_NAME"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(FetchError, match="set AZURE_STORAGE_ACCOUNT_NAME"):
        filesystem("az")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "lake")
    monkeypatch.setenv("AZURE_STORAGE_SAS_TOKEN", "sv=2024&sig=abc")
    assert type(filesystem("az")).__name__ == "AzureFileSystem"
