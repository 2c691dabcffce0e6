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
from modelship.api.batch import BATCH_GPU_NEEDS_SERVING_GPU, OUTPUT_FORMAT_OF_A_TABLE
from modelship.api.common import (
    NODE_SELECTOR_KEYS,
    TOLERATION_EXISTS_WITHOUT_VALUE,
    TOLERATION_SECONDS_NEED_NO_EXECUTE,
    TOLERATION_WITHOUT_KEY,
    EnvVar,
    GpuSpec,
    Toleration,
)
from modelship.api.model_deployment import (
    HPA_SCALE_TO_ZERO,
    INPUT_FORMAT_UNKNOWN,
    KEDA_CPU_REQUEST,
    KEDA_MEMORY_REQUEST,
    KEDA_NAME,
    KEDA_SCALE_TO_ZERO_ON_RESOURCES,
    MIRROR_NEEDS_ROUTE,
    MIRROR_OR_TRACING,
    OUTPUT_FORMAT_UNKNOWN,
    OUTPUT_NOT_PER_RUN,
    REFERENCE_NOT_SUPPORTED,
    REPLICA_BOUNDS,
    SECTION_NAME_NEEDED,
    SECTION_NAME_UNIQUE,
    AutoscalingSpec,
    BatchInput,
    BatchOutput,
    CanarySpec,
    CanaryTraffic,
    DriftMonitoring,
    MetricsProvider,
    ModelDeploymentSpec,
    ModelSource,
    ServingSpec,
)
from modelship.api.retrain_job import (
    PVC_OUTPUT_NOT_SUPPORTED,
    TrainerTemplate,
    TrainingOutput,
    ValidationSpec,
)
from modelship.api.rollout import (
    ANALYSIS_INTERVAL_TOO_SHORT,
    CANARY_NEEDS_STRATEGY,
    CanaryAnalysis,
    RolloutSpec,
)
from modelship.api.schema import structural_schema
from support.reconcile_states import NIGHTLY

if TYPE_CHECKING:
    from conftest import OfflineApiServer

GPU_COUNT = "gpu.product and gpu.migProfile need gpu.count"
ONE_ENV_SOURCE = "set exactly one of value or secretKeyRef"
URI_WITH_VERSION = "model.uri and model.version go together"
ONE_MODEL_SOURCE = "set exactly one of model.uri (with model.version) or model.fromRetrainJob"
KEDA_PROMETHEUS = "KEDA scaling on Triton metrics needs prometheusUrl"
PROMETHEUS_URL = "a prometheus metrics provider needs url"
GATEWAY_PARENTS = "the gatewayAPI router needs at least one parentRef"
GRPC_NEEDS_GATEWAY = "grpcParentRefs needs the gatewayAPI router"
INCREASING_WEIGHTS = "canary step weights must be strictly increasing"
DRIFT_RETRAIN = "drift action retrain needs retrainJob"
HOLDOUT_LABEL = "validation.data needs validation.label, the column to predict"
HOLDOUT_METRIC = (
    "with validation.data, validation.metric must be one modelship evaluate computes: "
    "accuracy, f1, roc_auc, log_loss, rmse, mae or r2"
)
MDEP_NAME = (
    "metadata.name must be a DNS-1035 label: at most 63 lower case letters, digits "
    "and '-', starting with a letter (it names the stable Service)"
)
RTJ_NAME = (
    "metadata.name must be a DNS-1123 label: at most 63 lower case letters, digits "
    "and '-', starting and ending with a letter or digit (it labels every training Job)"
)


MODEL = {"name": "m", "version": "1", "uri": "s3://models/m/1"}


def _model_deployment(name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"model": MODEL, **spec}}


def _batch_spec(gpu: bool, serving: dict[str, Any] | None = None) -> dict[str, Any]:
    """A spec with one batch job, on the serving GPU when ``gpu``."""
    job = {**NIGHTLY, "gpu": gpu, "parallelism": 4}
    return {"model": MODEL, "serving": serving or {}, "batch": [job]}


def _keda_spec(metrics: list[str], **resources: dict[str, str]) -> dict[str, Any]:
    """A spec scaling with KEDA on ``metrics`` (cpu, memory, requestsPerSecond)."""
    serving = {"resources": resources} if resources else {}
    return {
        "model": MODEL,
        "serving": serving,
        "autoscaling": {
            "engine": "keda",
            "maxReplicas": 3,
            "prometheusUrl": "http://prometheus:9090",
            "metrics": [{"type": metric, "target": 70} for metric in metrics],
        },
    }


def _gateway(*refs: dict[str, Any]) -> dict[str, Any]:
    return {"router": "gatewayAPI", "parentRefs": list(refs)}


def _mirrored_spec(rollout: dict[str, Any]) -> dict[str, Any]:
    """A spec mirroring 10% of its traffic to drift-watch, rolled out by ``rollout``."""
    return {"model": MODEL, "rollout": rollout, "monitoring": {"drift": {"mirrorPercent": 10}}}


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
    (BatchInput, {"uri": "s3://lake/events/{date}/"}, []),
    (BatchOutput, {"uri": "s3://scores/{date}/"}, []),
    (BatchOutput, {"uri": "s3://scores/{date}/", "format": "csv"}, []),
    (BatchOutput, {"uri": "s3://scores/{date}"}, [OUTPUT_FORMAT_UNKNOWN]),
    (BatchOutput, {"uri": "s3://scores/{date}.csv", "format": "csv"}, [OUTPUT_FORMAT_OF_A_TABLE]),
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
    (AutoscalingSpec, {"minReplicas": 5, "maxReplicas": 2}, [REPLICA_BOUNDS]),
    (AutoscalingSpec, {"minReplicas": 0, "maxReplicas": 1}, [HPA_SCALE_TO_ZERO]),
    # KEDA refuses scale to zero on cpu and memory alone (the default metric is cpu).
    (
        AutoscalingSpec,
        {"minReplicas": 0, "maxReplicas": 1, "engine": "keda"},
        [KEDA_SCALE_TO_ZERO_ON_RESOURCES],
    ),
    (
        AutoscalingSpec,
        {
            "minReplicas": 0,
            "maxReplicas": 1,
            "engine": "keda",
            "metrics": [{"type": "memory", "target": 80}, {"type": "cpu", "target": 80}],
        },
        [KEDA_SCALE_TO_ZERO_ON_RESOURCES],
    ),
    (
        AutoscalingSpec,
        {
            "minReplicas": 0,
            "maxReplicas": 1,
            "engine": "keda",
            "prometheusUrl": "http://prometheus:9090",
            "metrics": [{"type": "cpu", "target": 80}, {"type": "requestsPerSecond", "target": 9}],
        },
        [],
    ),
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
    (
        CanaryTraffic,
        {
            "router": "gatewayAPI",
            "parentRefs": [{"name": "web"}],
            "grpcParentRefs": [{"name": "g"}],
        },
        [],
    ),
    (CanaryTraffic, {"grpcParentRefs": [{"name": "grpc"}]}, [GRPC_NEEDS_GATEWAY]),
    (
        CanaryTraffic,
        {
            "router": "gatewayAPI",
            "parentRefs": [{"name": "web"}],
            "grpcParentRefs": [{"name": "g"}, {"name": "g"}],
        },
        [SECTION_NAME_UNIQUE],
    ),
    # The Gateway API's own parentRefs rules (HTTPRoute CRD, v1.6.1).
    (CanaryTraffic, _gateway({"name": "a"}, {"name": "b"}), []),
    (CanaryTraffic, _gateway({"name": "a"}, {"name": "a", "namespace": "infra"}), []),
    (
        CanaryTraffic,
        _gateway({"name": "a", "sectionName": "http"}, {"name": "a", "sectionName": "https"}),
        [],
    ),
    (CanaryTraffic, _gateway({"name": "a"}, {"name": "a"}), [SECTION_NAME_UNIQUE]),
    # An empty namespace is the route's own.
    (
        CanaryTraffic,
        _gateway({"name": "a", "namespace": "infra"}, {"name": "a", "namespace": "infra"}),
        [SECTION_NAME_UNIQUE],
    ),
    (
        CanaryTraffic,
        _gateway({"name": "a", "sectionName": "http"}, {"name": "a", "sectionName": "http"}),
        [SECTION_NAME_UNIQUE],
    ),
    (
        CanaryTraffic,
        _gateway({"name": "a", "sectionName": "http"}, {"name": "a"}),
        [SECTION_NAME_NEEDED],
    ),
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
    (Toleration, {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}, []),
    (Toleration, {"operator": "Exists"}, []),
    (
        Toleration,
        {"key": "dedicated", "value": "ml", "effect": "NoExecute", "tolerationSeconds": 60},
        [],
    ),
    (
        Toleration,
        {"key": "dedicated", "effect": "NoSchedule", "tolerationSeconds": 60},
        [TOLERATION_SECONDS_NEED_NO_EXECUTE],
    ),
    (
        Toleration,
        {"key": "dedicated", "operator": "Exists", "value": "ml"},
        [TOLERATION_EXISTS_WITHOUT_VALUE],
    ),
    (Toleration, {"value": "ml"}, [TOLERATION_WITHOUT_KEY]),
    (
        Toleration,
        {"tolerationSeconds": 5, "value": "ml"},
        [TOLERATION_WITHOUT_KEY, TOLERATION_SECONDS_NEED_NO_EXECUTE],
    ),
    (Toleration, {"key": "", "operator": "Equal"}, [TOLERATION_WITHOUT_KEY]),
    (ServingSpec, {"nodeSelector": {"nvidia.com/gpu.product": "H100", "pool": "gpu"}}, []),
    (ServingSpec, {"nodeSelector": {"gpu type": "H100"}}, [NODE_SELECTOR_KEYS]),
    (TrainerTemplate, {"image": "t:1", "nodeSelector": {"-pool": "x"}}, [NODE_SELECTOR_KEYS]),
    # KEDA refuses a cpu or memory trigger on a container without that request.
    (ModelDeploymentSpec, _keda_spec(["cpu"], requests={"cpu": "500m"}), []),
    (ModelDeploymentSpec, _keda_spec(["cpu"], limits={"cpu": "1"}), []),
    (ModelDeploymentSpec, _keda_spec(["memory"], requests={"memory": "1Gi"}), []),
    (ModelDeploymentSpec, _keda_spec(["requestsPerSecond"]), []),
    (ModelDeploymentSpec, _keda_spec(["cpu"]), [KEDA_CPU_REQUEST]),
    # A batch job on the serving GPU needs one.
    (ModelDeploymentSpec, _batch_spec(gpu=True, serving={"gpu": {"count": 1}}), []),
    (ModelDeploymentSpec, _batch_spec(gpu=False), []),
    (ModelDeploymentSpec, _batch_spec(gpu=True), [BATCH_GPU_NEEDS_SERVING_GPU]),
    (ModelDeploymentSpec, _keda_spec(["cpu"], requests={"memory": "1Gi"}), [KEDA_CPU_REQUEST]),
    (
        ModelDeploymentSpec,
        _keda_spec(["memory", "requestsPerSecond"], requests={"cpu": "1"}),
        [KEDA_MEMORY_REQUEST],
    ),
    (ModelDeploymentSpec, _keda_spec(["cpu", "memory"]), [KEDA_CPU_REQUEST, KEDA_MEMORY_REQUEST]),
    # The trainer's output claim is not mounted: refused, not left to fail at run time.
    (TrainingOutput, {"uri": "s3://candidates/{run}"}, []),
    (TrainingOutput, {"uri": "pvc://models/candidates/{run}"}, [PVC_OUTPUT_NOT_SUPPORTED]),
    (DriftMonitoring, {}, []),
    (DriftMonitoring, {"action": "retrain", "retrainJob": "nightly"}, []),
    (DriftMonitoring, {"action": "retrain"}, [DRIFT_RETRAIN]),
    (DriftMonitoring, {"mirrorPercent": 5}, []),
    (DriftMonitoring, {"sampleEvery": 10}, []),
    (DriftMonitoring, {"mirrorPercent": 5, "sampleEvery": 10}, [MIRROR_OR_TRACING]),
    # Not read by batch or live drift yet: refused, not silently ignored.
    (DriftMonitoring, {"reference": "s3://profiles/fraud.json"}, [REFERENCE_NOT_SUPPORTED]),
    (
        ModelDeploymentSpec,
        _mirrored_spec({"strategy": "Canary", "canary": {"traffic": _gateway({"name": "gw"})}}),
        [],
    ),
    (ModelDeploymentSpec, _mirrored_spec({}), [MIRROR_NEEDS_ROUTE]),
    (ModelDeploymentSpec, _mirrored_spec({"strategy": "Canary"}), [MIRROR_NEEDS_ROUTE]),
    (
        ModelDeploymentSpec,
        _mirrored_spec({"strategy": "Recreate"}),
        [MIRROR_NEEDS_ROUTE],
    ),
    (RolloutSpec, {"strategy": "Canary", "canary": {"steps": [{"weight": 20}]}}, []),
    (RolloutSpec, {"strategy": "Recreate"}, []),
    (CanaryAnalysis, {"interval": "1s"}, []),
    (CanaryAnalysis, {"interval": "1h30m"}, []),
    (CanaryAnalysis, {"interval": "0s"}, [ANALYSIS_INTERVAL_TOO_SHORT]),
    (CanaryAnalysis, {"interval": "999ms"}, [ANALYSIS_INTERVAL_TOO_SHORT]),
    (RolloutSpec, {"canary": {"steps": [{"weight": 20}]}}, [CANARY_NEEDS_STRATEGY]),
    (RolloutSpec, {"strategy": "Recreate", "canary": {}}, [CANARY_NEEDS_STRATEGY]),
    (ValidationSpec, {"metric": "auc"}, []),
    (ValidationSpec, {"metric": "f1", "data": "s3://d/holdout.parquet", "label": "y"}, []),
    (ValidationSpec, {"metric": "f1", "data": "s3://d/holdout.parquet"}, [HOLDOUT_LABEL]),
    (
        ValidationSpec,
        {"metric": "auc", "data": "s3://d/holdout.parquet", "label": "y"},
        [HOLDOUT_METRIC],
    ),
    (ModelDeployment, _model_deployment("fraud-detector"), []),
    (ModelDeployment, _model_deployment("m" * 63), []),
    (ModelDeployment, _model_deployment("m" * 64), [MDEP_NAME]),
    (ModelDeployment, _model_deployment("7-eleven"), [MDEP_NAME]),
    (ModelDeployment, _model_deployment("fraud.detector"), [MDEP_NAME]),
    # KEDA names its HPA keda-hpa-<name>, which must fit in 63 characters.
    (
        ModelDeployment,
        {"metadata": {"name": "m" * 54}, "spec": _keda_spec(["requestsPerSecond"])},
        [],
    ),
    (
        ModelDeployment,
        {"metadata": {"name": "m" * 55}, "spec": _keda_spec(["requestsPerSecond"])},
        [KEDA_NAME],
    ),
    (
        ModelDeployment,
        _model_deployment("m" * 63, autoscaling={"maxReplicas": 2}),
        [],
    ),
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
