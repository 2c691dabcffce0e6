"""pvc:// uris a Job reads: one read-only volume per distinct claim, uris made file://.

Proves: other schemes pass unchanged; a claim used twice is mounted once; a bare claim
becomes its mount's root; volume names are DNS labels, distinct per claim, even for the
longest dotted claim names Kubernetes allows.
"""

from __future__ import annotations

import re

import pytest
from modelship.builders.claims import claim_volume_name, mount_claims

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@pytest.mark.parametrize(
    ("uris", "rewritten", "claims"),
    [
        (
            ["s3://b/k", "file:///x", "https://h/t.csv"],
            ["s3://b/k", "file:///x", "https://h/t.csv"],
            [],
        ),
        (
            ["pvc://models/a/1", "s3://b/k", "pvc://models/a/2"],
            ["file:///mnt/claims/models/a/1", "s3://b/k", "file:///mnt/claims/models/a/2"],
            ["models"],
        ),
        (
            ["pvc://data", "pvc://models/m/"],
            ["file:///mnt/claims/data", "file:///mnt/claims/models/m"],
            ["data", "models"],
        ),
    ],
    ids=["other-schemes-unchanged", "one-claim-mounted-once", "bare-claim-and-two-claims"],
)
def test_mount_claims(uris: list[str], rewritten: list[str], claims: list[str]) -> None:
    mounted = mount_claims(uris)
    assert mounted.uris == rewritten
    assert mounted.volumes == [
        {
            "name": claim_volume_name(claim),
            "persistentVolumeClaim": {"claimName": claim, "readOnly": True},
        }
        for claim in claims
    ]
    assert mounted.mounts == [
        {"name": claim_volume_name(claim), "mountPath": f"/mnt/claims/{claim}", "readOnly": True}
        for claim in claims
    ]


def test_volume_names_are_distinct_dns_labels() -> None:
    claims = ["a.b", "a-b", "x" * 63 + "." + "y" * 189]
    names = [claim_volume_name(claim) for claim in claims]
    assert all(DNS_LABEL.match(name) for name in names)
    assert len(set(names)) == len(claims)
