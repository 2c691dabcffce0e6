"""Revisions: named after the model's identity only, resolved from the spec or a RetrainJob.

Proves: the name is `<deployment>-<10 hex>`, stable for the same identity and
new for a changed uri, version, digest or format, never for serving changes;
long deployment names are cut to a valid DNS label; `fromRetrainJob` resolves
from the RetrainJob's promoted result (with its data as lineage) and fails
with a clear message when nothing is promoted; the steady plan leaves
replicas to the autoscaler when there is one.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest
from modelship.api import RetrainJob
from modelship.api.common import Lineage
from modelship.api.model_deployment import ModelFormat
from modelship.builders import (
    ResolvedModel,
    UnresolvedModelError,
    build_model_deployment_children,
    resolve_model,
    revision_name,
    steady_plan,
)

BASE = ResolvedModel(name="fraud", version="3", uri="s3://m/fraud/3", format=ModelFormat.ONNX)
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def _variant(**changes: Any) -> ResolvedModel:
    fields = {
        "name": BASE.name,
        "version": BASE.version,
        "uri": BASE.uri,
        "format": BASE.format,
        "sha256": BASE.sha256,
        "credentials_secret": BASE.credentials_secret,
        "lineage": BASE.lineage,
    }
    return ResolvedModel(**(fields | changes))


@pytest.mark.parametrize(
    ("changes", "same"),
    [
        ({}, True),
        ({"credentials_secret": "other"}, True),
        ({"lineage": Lineage(code_ref="abc")}, True),
        ({"version": "4"}, False),
        ({"uri": "s3://m/fraud/3b"}, False),
        ({"sha256": "0" * 64}, False),
        ({"format": ModelFormat.TORCHSCRIPT}, False),
    ],
    ids=["same", "credentials", "lineage", "version", "uri", "sha256", "format"],
)
def test_revision_name_follows_the_identity(changes: dict[str, Any], same: bool) -> None:
    assert (revision_name("fraud", _variant(**changes)) == revision_name("fraud", BASE)) is same


def test_revision_name_is_a_digest_of_the_identity() -> None:
    # Pinned: changing the scheme would roll every running model to a new revision.
    identity = json.dumps([BASE.uri, BASE.version, BASE.sha256, BASE.format.value])
    expected = "fraud-" + hashlib.sha256(identity.encode()).hexdigest()[:10]
    assert revision_name("fraud", BASE) == expected == "fraud-103e30865e"


def test_long_deployment_names_give_valid_revision_names() -> None:
    name = revision_name("m" * 63, BASE)
    assert len(name) == 63
    assert DNS_1035.match(name)
    assert name != revision_name("m" * 62, BASE)


def test_serving_changes_keep_the_revision(make_deployment: Any) -> None:
    small = make_deployment({})
    big = make_deployment({"serving": {"replicas": 5, "gpu": {"count": 1}, "args": ["-v"]}})
    assert (
        steady_plan(small, resolve_model(small)).stable.revision
        == steady_plan(big, resolve_model(big)).stable.revision
    )


def test_steady_plan_replicas(make_deployment: Any) -> None:
    fixed = make_deployment({"serving": {"replicas": 4}})
    scaled = make_deployment({"autoscaling": {"maxReplicas": 4}})
    assert steady_plan(fixed, resolve_model(fixed)).stable.replicas == 4
    assert steady_plan(scaled, resolve_model(scaled)).stable.replicas is None
    assert steady_plan(fixed, resolve_model(fixed)).canary is None


FOLLOWER = {
    "model": {"name": "fraud", "fromRetrainJob": "fraud-retrain", "version": None, "uri": None}
}


def test_from_retrain_job_resolves_the_promoted_result(
    make_deployment: Any, make_retrain_job: Any
) -> None:
    md = make_deployment(FOLLOWER | {"model": FOLLOWER["model"] | {"credentialsSecret": "store"}})
    rtj = make_retrain_job({"data": {"uri": "s3://data/fraud/", "version": "v9"}})
    promoted = {"version": "r12", "uri": "s3://models/fraud/r12", "sha256": "c" * 64}
    with_status = RetrainJob.model_validate(rtj.to_wire() | {"status": {"promoted": promoted}})
    assert resolve_model(md, with_status) == ResolvedModel(
        name="fraud",
        version="r12",
        uri="s3://models/fraud/r12",
        format=ModelFormat.ONNX,
        sha256="c" * 64,
        credentials_secret="store",
        lineage=Lineage(data_version="v9", data_uri="s3://data/fraud/"),
    )


def test_from_retrain_job_without_a_promoted_model(
    make_deployment: Any, make_retrain_job: Any
) -> None:
    md = make_deployment(FOLLOWER)
    with pytest.raises(UnresolvedModelError, match='"fraud-retrain" has not promoted a model yet'):
        resolve_model(md, make_retrain_job({}))
    with pytest.raises(UnresolvedModelError, match='RetrainJob "fraud-retrain" is not known'):
        resolve_model(md, None)


@pytest.mark.parametrize(
    ("version", "labelled"),
    [("3", True), ("2024.11-rc1", True), ("run 3 of 2024-11-25", False), ("v" * 64, False)],
    ids=["plain", "dotted", "spaces", "too-long"],
)
def test_model_version_label_only_when_it_is_a_label_value(
    version: str, labelled: bool, make_deployment: Any
) -> None:
    md = make_deployment({})
    model = _variant(version=version)
    children = build_model_deployment_children(md, steady_plan(md, model))
    deployment = children[0]
    assert ("modelship.dev/model-version" in deployment["metadata"]["labels"]) is labelled
    assert deployment["metadata"]["labels"]["modelship.dev/revision"] == revision_name(
        "fraud", model
    )
