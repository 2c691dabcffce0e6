"""modelship.core.uri.redact, the one rule the operator and the data plane use to show a uri:
no user info, no query string (presigned signatures), no fragment; nothing else changes."""

from __future__ import annotations

import pytest
from modelship.core.uri import redact


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        (
            "https://bucket.s3.amazonaws.com/in/day.csv?X-Amz-Signature=abc&X-Amz-Credential=k",
            "https://bucket.s3.amazonaws.com/in/day.csv",
        ),
        ("https://alice:pw@host:8443/m.tar.gz#part", "https://host:8443/m.tar.gz"),
        ("s3://key:secret@batch/in/day1.csv", "s3://batch/in/day1.csv"),
        ("gs://models/in/x.parquet", "gs://models/in/x.parquet"),
        ("/data/in.csv", "/data/in.csv"),
        # An unknown scheme with an empty host is shown as given, not as "fille:/tmp/m".
        ("fille:///tmp/m.tar.gz", "fille:///tmp/m.tar.gz"),
        ("file:///tmp/m.tar.gz", "file:///tmp/m.tar.gz"),
    ],
)
def test_secrets_are_removed_and_the_rest_is_kept(given: str, shown: str) -> None:
    assert redact(given) == shown
    assert "secret" not in redact(given)
    assert "pw" not in redact(given)
