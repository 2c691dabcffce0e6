"""Running the real Triton server on a model repository, on the ports asked for."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from modelship_serving.errors import ServeError
from modelship_serving.triton.installation import (
    TritonInstallation,
    find_triton,
    python_stub_for_running_interpreter,
)
from modelship_serving.triton.repository import servable_repository

READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0


class TritonServerSettings(BaseModel):
    """How to run Triton."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    repository: Path = Field(description="Model repository written by `modelship package`.")
    address: str = Field(default="127.0.0.1", description="Address the endpoints bind to.")
    http_port: int = Field(default=0, ge=0, le=65535, description="HTTP port; 0 picks a free one.")
    grpc_port: int = Field(default=0, ge=0, le=65535, description="gRPC port; 0 picks a free one.")
    metrics_port: int = Field(
        default=0, ge=0, le=65535, description="Prometheus metrics port; 0 picks a free one."
    )
    tritonserver: Path | None = Field(
        default=None, description="tritonserver binary; found automatically when absent."
    )
    log_verbose: int = Field(default=0, ge=0, description="Triton's --log-verbose level.")
    extra_args: list[str] = Field(
        default_factory=list, description="More tritonserver arguments, passed as they are."
    )


@dataclass(frozen=True)
class TritonEndpoints:
    """Where a running Triton answers."""

    http: str
    grpc: str
    metrics: str


def free_port(address: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def stop_process(process: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """SIGTERM, then SIGKILL when it has not exited within ``timeout`` seconds; waits for it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _prepare_backends(installation: TritonInstallation, scratch: Path) -> Path:
    """A backend directory the binary can use; for the wheel, with the stub for this Python."""
    stub = python_stub_for_running_interpreter(installation)
    if stub is None:
        return installation.backends_dir
    backends = scratch / "backends"
    shutil.copytree(
        installation.backends_dir, backends, ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy2(stub, backends / "python" / stub.name)
    return backends


def _environment(installation: TritonInstallation) -> dict[str, str]:
    environment = dict(os.environ)
    library_path = [str(path) for path in installation.library_dirs if path.is_dir()]
    if environment.get("LD_LIBRARY_PATH"):
        library_path.append(environment["LD_LIBRARY_PATH"])
    environment["LD_LIBRARY_PATH"] = os.pathsep.join(library_path)
    # The python backend stub embeds this interpreter: give it our packages (onnxruntime, numpy).
    python_path = [entry for entry in sys.path if entry]
    if environment.get("PYTHONPATH"):
        python_path.insert(0, environment["PYTHONPATH"])
    environment["PYTHONPATH"] = os.pathsep.join(python_path)
    environment["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), environment.get("PATH", "")]
    )
    environment.setdefault("ORT_DISABLE_TELEMETRY", "1")
    return environment


class TritonServer:
    """A tritonserver process; use as a context manager or call start() and stop()."""

    def __init__(self, settings: TritonServerSettings) -> None:
        self.settings = settings
        self._process: subprocess.Popen[bytes] | None = None
        self._scratch: Path | None = None
        self.log_path: Path | None = None
        self.endpoints: TritonEndpoints | None = None

    def start(
        self, ready_timeout: float = READY_TIMEOUT_SECONDS, log_to_console: bool = False
    ) -> TritonEndpoints:
        """Start Triton and wait until it reports ready; ServeError with its log if it cannot."""
        settings = self.settings
        installation = find_triton(settings.tritonserver)
        self._scratch = Path(tempfile.mkdtemp(prefix="modelship-triton-"))
        try:
            backends_dir = _prepare_backends(installation, self._scratch)
            repository = servable_repository(
                settings.repository.resolve(), installation.backends(), self._scratch
            )
            http_port = settings.http_port or free_port(settings.address)
            grpc_port = settings.grpc_port or free_port(settings.address)
            metrics_port = settings.metrics_port or free_port(settings.address)
            command = [
                str(installation.binary),
                f"--model-repository={repository}",
                f"--backend-directory={backends_dir}",
                f"--http-address={settings.address}",
                f"--http-port={http_port}",
                f"--grpc-address={settings.address}",
                f"--grpc-port={grpc_port}",
                f"--metrics-address={settings.address}",
                f"--metrics-port={metrics_port}",
                f"--log-verbose={settings.log_verbose}",
                "--exit-timeout-secs=5",
                *settings.extra_args,
            ]
            self.log_path = self._scratch / "tritonserver.log"
            with self.log_path.open("wb") as log:
                self._process = subprocess.Popen(
                    command,
                    stdout=None if log_to_console else log,
                    stderr=subprocess.STDOUT if not log_to_console else None,
                    env=_environment(installation),
                    cwd=self._scratch,
                )
            host = settings.address if settings.address not in ("0.0.0.0", "::") else "127.0.0.1"
            self.endpoints = TritonEndpoints(
                http=f"{host}:{http_port}",
                grpc=f"{host}:{grpc_port}",
                metrics=f"http://{host}:{metrics_port}/metrics",
            )
            self._wait_until_ready(ready_timeout)
        except BaseException:
            self.stop()
            raise
        return self.endpoints

    @property
    def started_endpoints(self) -> TritonEndpoints:
        """Where the started server answers; ServeError before start()."""
        if self.endpoints is None:
            raise ServeError("Triton has not been started: call start() or enter it first")
        return self.endpoints

    def _wait_until_ready(self, timeout: float) -> None:
        assert self._process is not None
        assert self.endpoints is not None
        url = f"http://{self.endpoints.http}/v2/health/ready"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ServeError(
                    f"tritonserver exited with status {self._process.returncode} before it was"
                    f" ready:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise ServeError(f"tritonserver was not ready within {timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of Triton's log (empty when it logs to the console)."""
        if self.log_path is None or not self.log_path.is_file():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait(self) -> int:
        """Block until Triton exits; its exit status."""
        assert self._process is not None
        return self._process.wait()

    def stop(self) -> None:
        """Stop Triton (SIGTERM, then SIGKILL) and remove the scratch directory."""
        process, self._process = self._process, None
        if process is not None:
            stop_process(process)
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def __enter__(self) -> TritonServer:
        if self._process is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
