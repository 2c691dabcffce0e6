"""Finding a `tritonserver` binary and the backends it can load.

The `nvidia-pytriton` wheel carries a real Triton build (python backend only);
a Triton container has `/opt/tritonserver`. A binary can also be given by path
or with the MODELSHIP_TRITONSERVER environment variable.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from modelship_serving.errors import ServeError

BINARY_ENVIRONMENT_VARIABLE = "MODELSHIP_TRITONSERVER"
_CONTAINER_ROOT = Path("/opt/tritonserver")


@dataclass(frozen=True)
class TritonInstallation:
    """Where one Triton build lives."""

    binary: Path
    backends_dir: Path
    """The build's backend directory (one subdirectory per backend)."""
    library_dirs: tuple[Path, ...]
    """Directories that must be on LD_LIBRARY_PATH for the binary and its backends."""
    python_stubs_dir: Path | None
    """pytriton's per-Python-version python backend stubs, when the build is the wheel's."""

    def backends(self) -> frozenset[str]:
        """Names of the backends this build can load."""
        if not self.backends_dir.is_dir():
            return frozenset()
        return frozenset(entry.name for entry in self.backends_dir.iterdir() if entry.is_dir())


def _python_library_dir() -> Path:
    # The python backend stub links against libpython of the running interpreter.
    return Path(str(sysconfig.get_config_var("LIBDIR")))


def _from_pytriton_wheel() -> TritonInstallation | None:
    spec = importlib.util.find_spec("pytriton")
    if spec is None or spec.origin is None:
        return None
    package_dir = Path(spec.origin).parent
    root = package_dir / "tritonserver"
    binary = root / "bin" / "tritonserver"
    if not binary.is_file():
        return None
    return TritonInstallation(
        binary=binary,
        backends_dir=root / "backends",
        library_dirs=(package_dir.parent / "nvidia_pytriton.libs", _python_library_dir()),
        python_stubs_dir=root / "python_backend_stubs",
    )


def _from_binary(binary: Path) -> TritonInstallation:
    if not binary.is_file() or not os.access(binary, os.X_OK):
        raise ServeError(f"{binary} is not an executable tritonserver binary")
    root = binary.resolve().parent.parent
    return TritonInstallation(
        binary=binary,
        backends_dir=root / "backends",
        library_dirs=(root / "lib", _python_library_dir()),
        python_stubs_dir=None,
    )


def find_triton(binary: Path | None = None) -> TritonInstallation:
    """The Triton to run: ``binary`` if given, else $MODELSHIP_TRITONSERVER, the pytriton wheel,
    /opt/tritonserver or `tritonserver` on PATH, in that order."""
    if binary is not None:
        return _from_binary(binary)
    from_environment = os.environ.get(BINARY_ENVIRONMENT_VARIABLE)
    if from_environment:
        return _from_binary(Path(from_environment))
    wheel = _from_pytriton_wheel()
    if wheel is not None:
        return wheel
    container_binary = _CONTAINER_ROOT / "bin" / "tritonserver"
    if container_binary.is_file():
        return _from_binary(container_binary)
    on_path = shutil.which("tritonserver")
    if on_path:
        return _from_binary(Path(on_path))
    raise ServeError(
        "no tritonserver found: install modelship[serve] (it brings the nvidia-pytriton wheel"
        f" with a CPU Triton build), or give the binary with --tritonserver or"
        f" ${BINARY_ENVIRONMENT_VARIABLE}"
    )


def python_stub_for_running_interpreter(installation: TritonInstallation) -> Path | None:
    """pytriton's python backend stub built for this interpreter's version, if any."""
    if installation.python_stubs_dir is None:
        return None
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = installation.python_stubs_dir / version / "triton_python_backend_stub"
    return stub if stub.is_file() else None
