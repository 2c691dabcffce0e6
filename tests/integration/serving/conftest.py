"""Fixtures for the real-Triton and fetch tests: tiny trained pipelines (and everyday models
of tests/support/model_zoo.py), a packaged repository,
one tritonserver shared by the session (stopped at the end), and free ports on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest
from modelship_serving.metadata import ModelMetadata
from modelship_serving.packaging.package import package_model
from modelship_serving.triton.config import ModelConfigOptions
from modelship_serving.triton.server import TritonServer, TritonServerSettings
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from support import everyday_models, model_zoo
from support.http_servers import wait_for_port
from support.sklearn_models import churn_classifier, mixed_frame, spend_regressor


@dataclass(frozen=True)
class ServedModel:
    """A packaged model, the original it came from, and rows it never saw."""

    original: Any
    metadata: ModelMetadata
    held_out: pd.DataFrame


def _train_all() -> dict[str, tuple[Any, pd.DataFrame, pd.DataFrame]]:
    wine = load_wine(as_frame=True)
    wine_x = wine.data.rename(columns=lambda name: name.replace("/", "_"))
    wine_model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    wine_model.fit(wine_x.iloc[::2], wine.target.iloc[::2])

    train, held_out = mixed_frame(400, 1), mixed_frame(60, 2)
    classifier = churn_classifier(train)

    regressor = spend_regressor(train)
    return {
        "wine": (wine_model, wine_x.iloc[::2], wine_x.iloc[1::2]),
        "churn": (classifier, train, held_out),
        "spend": (regressor, train, held_out),
        # Packaged with --python-backend: served as written, no wrapping.
        "churn-py": (classifier, train, held_out),
    }


MODEL_ZOO = model_zoo  # also what test_triton_model_zoo.py parametrizes over


def _package_zoo(work: Path, repository: Path) -> dict[str, ServedModel]:
    cases = {case.name: case for case in [*MODEL_ZOO.ZOO, *everyday_models.CASES]}
    served: dict[str, ServedModel] = {}
    for name in [*MODEL_ZOO.SERVED_BY_TRITON, *everyday_models.SERVED_BY_TRITON]:
        library = cases[name].library
        if library is not None and importlib.util.find_spec(library) is None:
            continue  # the boosting extra is absent; the test of that model skips
        fitted = cases[name].build()
        fitted.write(work / f"{name}.joblib", work / f"{name}.parquet")
        result = package_model(
            work / f"{name}.joblib", work / f"{name}.parquet", name, "1", repository
        )
        served[name] = ServedModel(fitted.model, result.metadata, fitted.held_out)
    return served


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, ServedModel]]:
    """A repository with a numeric classifier, a mixed classifier, a mixed regressor and
    the everyday models of model_zoo.SERVED_BY_TRITON."""
    work = tmp_path_factory.mktemp("packaged")
    repository = work / "repository"
    served: dict[str, ServedModel] = {}
    for name, (model, train, held_out) in _train_all().items():
        joblib.dump(model, work / f"{name}.joblib")
        train.to_csv(work / f"{name}.csv", index=False)
        backend = "python" if name.endswith("-py") else "onnxruntime"
        result = package_model(
            work / f"{name}.joblib",
            work / f"{name}.csv",
            name,
            "1",
            repository,
            config_options=ModelConfigOptions(backend=backend),
        )
        served[name] = ServedModel(model, result.metadata, held_out)
    served.update(_package_zoo(work, repository))
    served.update(_package_torch_export(work, repository))
    served.update(_package_torch_networks(work, repository))
    return repository, served


def _package_torch_networks(work: Path, repository: Path) -> dict[str, ServedModel]:
    """PyTorch networks (support.torch_networks) saved as TorchScript (the classifier, with
    --classes) and as a pickled module (the regressor); none when PyTorch is absent (the
    tests of these skip, saying so). Their "original" is the TrainedNetwork."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return {}
    from support import torch_networks

    served: dict[str, ServedModel] = {}
    for name, network, save_as in [
        ("torch-classifier", torch_networks.classifier(), "torchscript"),
        ("torch-regressor", torch_networks.regressor(), "pickled"),
    ]:
        model_path = torch_networks.save(network.module, work / f"{name}.pt", save_as)
        network.sample.to_parquet(work / f"{name}.parquet")
        result = package_model(
            model_path,
            work / f"{name}.parquet",
            name,
            "1",
            repository,
            classes=network.classes,
        )
        served[name] = ServedModel(network, result.metadata, network.held_out)
    return served


def _package_torch_export(work: Path, repository: Path) -> dict[str, ServedModel]:
    """A torch.onnx.export-style MLP ([batch, k] input, logits) packaged with --classes;
    its "original" is the weights (support.onnx_exports.reference_logits)."""
    import onnx
    from support import onnx_exports

    weights = onnx_exports.mlp_weights()
    onnx.save(onnx_exports.torch_style_mlp(weights), str(work / "torch-mlp.onnx"))
    onnx_exports.sample(200, 1).to_parquet(work / "torch-mlp.parquet")
    result = package_model(
        work / "torch-mlp.onnx",
        work / "torch-mlp.parquet",
        "torch-mlp",
        "1",
        repository,
        classes=onnx_exports.CLASSES,
    )
    return {"torch-mlp": ServedModel(weights, result.metadata, onnx_exports.sample(50, 2))}


@pytest.fixture(scope="session")
def triton(packaged: tuple[Path, dict[str, ServedModel]]) -> Iterator[TritonServer]:
    """One real tritonserver on 127.0.0.1 for the whole session."""
    server = TritonServer(TritonServerSettings(repository=packaged[0]))
    # About twenty models, each its own python-backend stub process here (the pytriton build
    # has no onnxruntime backend): on a busy 2-core machine loading them passes 60 s.
    server.start(ready_timeout=240)
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class S3Server:
    """A moto S3 server with IAM auth on: only `access_key`/`secret_key` are accepted."""

    endpoint: str
    access_key: str
    secret_key: str

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto in server mode on 127.0.0.1; the first 3 calls (creating a user) skip auth."""
    import json
    import os
    import subprocess

    import boto3
    from modelship_serving.triton.server import free_port

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="3"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        endpoint = f"http://127.0.0.1:{port}"
        iam = boto3.client(
            "iam",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bootstrap",
            aws_secret_access_key="bootstrap",
        )
        iam.create_user(UserName="fetcher")
        key = iam.create_access_key(UserName="fetcher")["AccessKey"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        iam.put_user_policy(UserName="fetcher", PolicyName="s3", PolicyDocument=json.dumps(policy))
        yield S3Server(endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def s3_environment(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> S3Server:
    """The moto server's endpoint and credentials in the environment, as the credentials
    Secret provides them to a pod, and no other source of AWS configuration."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return s3_server


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    """gcp-storage-emulator on 127.0.0.1 with an empty bucket `models`; its endpoint url."""
    import os
    import subprocess

    from modelship_serving.triton.server import free_port

    port = free_port()
    executable = Path(sys.executable).parent / "gcp-storage-emulator"
    process = subprocess.Popen(
        [
            str(executable),
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--in-memory",
            "--default-bucket",
            "models",
            "--quiet",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def gcs_models(gcs_emulator: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Bucket `models` on the emulator; the code under test finds the emulator in the
    environment (STORAGE_EMULATOR_HOST)."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
    return storage.Client(project="test", credentials=credentials).bucket("models")


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Azurite's blob service on 127.0.0.1 (skips when not installed); its endpoint url."""
    from support.azurite import running_azurite

    with running_azurite(tmp_path_factory.mktemp("azurite")) as endpoint:
        yield endpoint


@pytest.fixture
def azure_models(azurite: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Container `models` on Azurite, its connection string in the environment; a pyarrow
    filesystem of the account (paths are CONTAINER/KEY)."""
    from support.azurite import use_azurite

    return use_azurite(monkeypatch, azurite, "models")
