"""Every CEL rule in the CRDs accepts good input, refuses bad input, and pydantic agrees.

Each case is evaluated twice: by the CEL rules of the type's generated
schema (with `cel-python`, after the schema's defaults are applied, as the
API server does) and by the pydantic type's own validators. Both must
accept the good cases and refuse the bad ones with the same message, so
that `kubectl apply` and the offline `modelship render` give one answer. A
bad case must break exactly the rules it names, no more. A rule in the CRDs
that no bad case breaks fails the coverage test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pydantic
import pytest
from modelship.api import ModelDeployment, RetrainJob
from modelship.api.common import EnvVar, GpuSpec
from modelship.api.model_deployment import (
    HPA_SCALE_TO_ZERO,
    INPUT_FORMAT_UNKNOWN,
    OUTPUT_FORMAT_UNKNOWN,
    OUTPUT_NOT_PER_RUN,
    AutoscalingSpec,
    BatchInput,
    BatchOutput,
    CanarySpec,
    CanaryTraffic,
    DriftMonitoring,
    MetricsProvider,
    ModelSource,
)
from modelship.api.schema import structural_schema

if TYPE_CHECKING:
    from conftest import OfflineApiServer

GPU_COUNT = "gpu.product and gpu.migProfile need gpu.count"
ONE_ENV_SOURCE = "set exactly one of value or secretKeyRef"
URI_WITH_VERSION = "model.uri and model.version go together"
ONE_MODEL_SOURCE = "set exactly one of model.uri (with model.version) or model.fromRetrainJob"
KEDA_PROMETHEUS = "KEDA scaling on Triton metrics needs prometheusUrl"
PROMETHEUS_URL = "a prometheus metrics provider needs url"
GATEWAY_PARENTS = "the gatewayAPI router needs at least one parentRef"
INCREASING_WEIGHTS = "canary step weights must be strictly increasing"
DRIFT_RETRAIN = "drift action retrain needs retrainJob"
MDEP_NAME = (
    "metadata.name must be a DNS-1035 label: at most 63 lower case letters, digits "
    "and '-', starting with a letter (it names the stable Service)"
)
RTJ_NAME = (
    "metadata.name must be a DNS-1123 label: at most 63 lower case letters, digits "
    "and '-', starting and ending with a letter or digit (it labels every training Job)"
)


def _model_deployment(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"model": {"name": "m", "version": "1", "uri": "s3://models/m/1"}},
    }


def _retrain_job(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "modelDeployment": "m",
            "template": {"image": "trainer:1"},
            "data": {"uri": "s3://data/"},
            "output": {"uri": "s3://models/{run}"},
            "validation": {"metric": "auc"},
        },
    }


# (type, value, messages of the rules it breaks: empty when it must be accepted)
CASES: list[tuple[type[pydantic.BaseModel], Any, list[str]]] = [
    (BatchInput, {"uri": "s3://data/{date}.csv"}, []),
    (BatchInput, {"uri": "s3://data/export", "format": "parquet"}, []),
    (BatchInput, {"uri": "s3://data/export"}, [INPUT_FORMAT_UNKNOWN]),
    (BatchOutput, {"uri": "s3://scores/{date}.parquet"}, []),
    (BatchOutput, {"uri": "pvc://scores/{run}.jsonl"}, []),
    (BatchOutput, {"uri": "s3://scores/{date}/"}, [OUTPUT_FORMAT_UNKNOWN]),
    (BatchOutput, {"uri": "s3://scores/latest.parquet"}, [OUTPUT_NOT_PER_RUN]),
    (GpuSpec, {}, []),
    (GpuSpec, {"count": 2, "product": "NVIDIA-H100-80GB-HBM3"}, []),
    (GpuSpec, {"count": 1, "migProfile": "1g.10gb"}, []),
    (GpuSpec, {"product": "NVIDIA-H100-80GB-HBM3"}, [GPU_COUNT]),
    (GpuSpec, {"migProfile": "1g.10gb"}, [GPU_COUNT]),
    (EnvVar, {"name": "LOG_LEVEL", "value": "info"}, []),
    (EnvVar, {"name": "TOKEN", "secretKeyRef": {"name": "s3", "key": "token"}}, []),
    (EnvVar, {"name": "TOKEN"}, [ONE_ENV_SOURCE]),
    (
        EnvVar,
        {"name": "TOKEN", "value": "x", "secretKeyRef": {"name": "s3", "key": "token"}},
        [ONE_ENV_SOURCE],
    ),
    (ModelSource, {"name": "m", "version": "1", "uri": "s3://models/m/1"}, []),
    (ModelSource, {"name": "m", "fromRetrainJob": "nightly"}, []),
    (ModelSource, {"name": "m", "uri": "s3://models/m/1"}, [URI_WITH_VERSION]),
    (
        ModelSource,
        {"name": "m", "version": "1", "fromRetrainJob": "nightly"},
        [URI_WITH_VERSION],
    ),
    (ModelSource, {"name": "m"}, [ONE_MODEL_SOURCE]),
    (
        ModelSource,
        {"name": "m", "version": "1", "uri": "s3://models/m/1", "fromRetrainJob": "nightly"},
        [ONE_MODEL_SOURCE],
    ),
    # minReplicas defaults to 1, which the API server fills in before the rule runs.
    (AutoscalingSpec, {"maxReplicas": 1}, []),
    (AutoscalingSpec, {"minReplicas": 2, "maxReplicas": 2}, []),
    (
        AutoscalingSpec,
        {"minReplicas": 5, "maxReplicas": 2},
        ["minReplicas (5) must not exceed maxReplicas (2)"],
    ),
    (AutoscalingSpec, {"minReplicas": 0, "maxReplicas": 1}, [HPA_SCALE_TO_ZERO]),
    (AutoscalingSpec, {"minReplicas": 0, "maxReplicas": 1, "engine": "keda"}, []),
    (AutoscalingSpec, {"maxReplicas": 3, "engine": "keda"}, []),
    (
        AutoscalingSpec,
        {
            "maxReplicas": 3,
            "engine": "keda",
            "metrics": [{"type": "queueTimeMicroseconds", "target": 500}],
            "prometheusUrl": "http://prometheus:9090",
        },
        [],
    ),
    (
        AutoscalingSpec,
        {"maxReplicas": 3, "metrics": [{"type": "requestsPerSecond", "target": 50}]},
        [],
    ),
    (
        AutoscalingSpec,
        {
            "maxReplicas": 3,
            "engine": "keda",
            "metrics": [{"type": "cpu", "target": 70}, {"type": "gpuUtilization", "target": 80}],
        },
        [KEDA_PROMETHEUS],
    ),
    (MetricsProvider, {}, []),
    (MetricsProvider, {"type": "prometheus", "url": "http://prometheus:9090"}, []),
    (MetricsProvider, {"type": "prometheus"}, [PROMETHEUS_URL]),
    (CanaryTraffic, {}, []),
    (CanaryTraffic, {"router": "gatewayAPI", "parentRefs": [{"name": "public"}]}, []),
    (CanaryTraffic, {"router": "gatewayAPI"}, [GATEWAY_PARENTS]),
    (CanarySpec, {}, []),
    (CanarySpec, {"steps": [{"weight": 100}]}, []),
    (CanarySpec, {"steps": [{"weight": 5}, {"weight": 25}, {"weight": 75}]}, []),
    (CanarySpec, {"steps": [{"weight": 50}, {"weight": 10}]}, [INCREASING_WEIGHTS]),
    (CanarySpec, {"steps": [{"weight": 10}, {"weight": 10}]}, [INCREASING_WEIGHTS]),
    (
        CanarySpec,
        {"steps": [{"weight": 10}, {"weight": 30}, {"weight": 20}]},
        [INCREASING_WEIGHTS],
    ),
    # Rules of nested types apply inside their parent too.
    (
        CanarySpec,
        {"analysis": {"provider": {"type": "prometheus"}}, "traffic": {"router": "gatewayAPI"}},
        [PROMETHEUS_URL, GATEWAY_PARENTS],
    ),
    (DriftMonitoring, {}, []),
    (DriftMonitoring, {"action": "retrain", "retrainJob": "nightly"}, []),
    (DriftMonitoring, {"action": "retrain"}, [DRIFT_RETRAIN]),
    (ModelDeployment, _model_deployment("fraud-detector"), []),
    (ModelDeployment, _model_deployment("m" * 63), []),
    (ModelDeployment, _model_deployment("m" * 64), [MDEP_NAME]),
    (ModelDeployment, _model_deployment("7-eleven"), [MDEP_NAME]),
    (ModelDeployment, _model_deployment("fraud.detector"), [MDEP_NAME]),
    (RetrainJob, _retrain_job("nightly"), []),
    (RetrainJob, _retrain_job("7-nightly"), []),
    (RetrainJob, _retrain_job("nightly-"), [RTJ_NAME]),
    (RetrainJob, _retrain_job("Nightly"), [RTJ_NAME]),
]


def _case_id(case: tuple[type[pydantic.BaseModel], Any, list[str]]) -> str:
    model, _, messages = case
    return f"{model.__name__}-{'refused' if messages else 'accepted'}"


@pytest.mark.parametrize(("model", "value", "messages"), CASES, ids=map(_case_id, CASES))
def test_cel_rules_and_pydantic_agree(
    model: type[pydantic.BaseModel],
    value: Any,
    messages: list[str],
    api_server: OfflineApiServer,
) -> None:
    failures = api_server.rule_failures(structural_schema(model), value)
    assert [failure.error for failure in failures if failure.error] == []
    assert sorted(failure.message for failure in failures) == sorted(messages)

    if not messages:
        model.model_validate(value)
        return
    with pytest.raises(pydantic.ValidationError) as refused:
        model.model_validate(value)
    errors = [error["msg"] for error in refused.value.errors()]
    for message in messages:
        assert any(message in error for error in errors), f"{message!r} not in {errors}"


def _rules(node: dict[str, Any]) -> Iterator[str]:
    yield from (entry["rule"] for entry in node.get("x-kubernetes-validations", []))
    for child in node.get("properties", {}).values():
        yield from _rules(child)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield from _rules(node[key])


def test_every_rule_in_the_crds_is_broken_by_some_case(
    kind_schemas: dict[str, Any], api_server: OfflineApiServer
) -> None:
    in_crds = {rule for schema in kind_schemas.values() for rule in _rules(schema)}
    broken = {
        failure.rule
        for model, value, messages in CASES
        if messages
        for failure in api_server.rule_failures(structural_schema(model), value)
    }
    assert in_crds - broken == set()


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("[].isSorted()", True),
        ("[7].isSorted()", True),
        ("[1, 2, 2, 3].isSorted()", True),
        ("[1, 3, 2].isSorted()", False),
        ("['a', 'b', 'c'].isSorted()", True),
        ("['b', 'a'].isSorted()", False),
        ("[1.5, 2.5].isSorted()", True),
    ],
)
def test_is_sorted_follows_the_kubernetes_list_library(
    expression: str, expected: bool, api_server: OfflineApiServer
) -> None:
    assert api_server.evaluate(expression, None) == expected


def test_is_sorted_refuses_mixed_types(api_server: OfflineApiServer) -> None:
    with pytest.raises(Exception, match="isSorted"):
        api_server.evaluate("[1, 'a'].isSorted()", None)
