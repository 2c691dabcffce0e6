"""Every sample under crds/samples/ is accepted by the CRD and by the pydantic types alike.

Proves, for each sample: the API server's checks (schema, defaults, CEL
rules; see conftest) accept it; the pydantic types parse it; the CRD's
defaults and the types' defaults agree (the defaulted object parses to the
same model); and what the types write back (`to_wire`) is accepted too.
New samples are picked up by the glob.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from modelship.api import ModelDeployment, RetrainJob
from modelship.api.base import ApiModel

if TYPE_CHECKING:
    from conftest import OfflineApiServer

SAMPLES = Path(__file__).resolve().parents[3] / "crds" / "samples"
TYPES: dict[str, type[ApiModel]] = {"ModelDeployment": ModelDeployment, "RetrainJob": RetrainJob}


def _documents() -> list[Any]:
    return [
        pytest.param(document, id=f"{path.name}#{index}")
        for path in sorted(SAMPLES.glob("*.yaml"))
        for index, document in enumerate(yaml.safe_load_all(path.read_text()))
        if document is not None
    ]


SAMPLE_DOCUMENTS = _documents()

# Objects that leave nested objects empty, so that their defaults apply at every level.
SPARSE_OBJECTS = [
    {
        "apiVersion": "modelship.dev/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": "sparse"},
        "spec": {
            "model": {"name": "m", "fromRetrainJob": "nightly"},
            "serving": {"dynamicBatching": {}, "gpu": {}},
            "autoscaling": {"maxReplicas": 3},
            "rollout": {"strategy": "Canary", "canary": {"analysis": {}, "traffic": {}}},
            "batch": [
                {
                    "name": "nightly",
                    "schedule": "@daily",
                    "input": {"uri": "s3://in/x.parquet"},
                    "output": {"uri": "s3://out/{date}.csv"},
                }
            ],
            "monitoring": {"drift": {}},
        },
    },
    {
        "apiVersion": "modelship.dev/v1alpha1",
        "kind": "RetrainJob",
        "metadata": {"name": "sparse"},
        "spec": {
            "modelDeployment": "m",
            "triggers": {"drift": {}},
            "template": {"image": "trainer:1", "env": [{"name": "A", "value": "1"}]},
            "data": {"uri": "s3://data/"},
            "output": {"uri": "s3://models/{run}"},
            "validation": {"metric": "auc"},
        },
    },
]


def test_there_are_samples_of_every_kind() -> None:
    kinds = {param.values[0]["kind"] for param in SAMPLE_DOCUMENTS}
    assert kinds == set(TYPES)


@pytest.mark.parametrize("sample", SAMPLE_DOCUMENTS)
def test_sample_is_accepted_by_the_crd(
    sample: dict[str, Any], kind_schemas: dict[str, Any], api_server: OfflineApiServer
) -> None:
    assert sample["apiVersion"] == "modelship.dev/v1alpha1"
    assert api_server.errors(kind_schemas[sample["kind"]], sample) == []


@pytest.mark.parametrize(
    "sample",
    [*SAMPLE_DOCUMENTS, *(pytest.param(o, id=f"sparse-{o['kind']}") for o in SPARSE_OBJECTS)],
)
def test_crd_and_types_default_alike(
    sample: dict[str, Any], kind_schemas: dict[str, Any], api_server: OfflineApiServer
) -> None:
    model_type = TYPES[sample["kind"]]
    schema = kind_schemas[sample["kind"]]
    defaulted = api_server.defaulted(schema, sample)
    assert api_server.errors(schema, sample) == []
    assert model_type.model_validate(defaulted) == model_type.model_validate(sample)


@pytest.mark.parametrize("sample", SAMPLE_DOCUMENTS)
def test_what_the_types_write_is_accepted(
    sample: dict[str, Any], kind_schemas: dict[str, Any], api_server: OfflineApiServer
) -> None:
    wire = TYPES[sample["kind"]].model_validate(sample).to_wire()
    assert api_server.errors(kind_schemas[sample["kind"]], wire) == []
