#!/usr/bin/env bash
# Installs uv, which installs .venv from uv.lock and re-resolves the lock, into its own
# environment at .tools/uv (from PyPI). Idempotent. Keep the version in step with
# operator/Dockerfile and serving/Dockerfile (a test checks).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=${PYTHON:-python3}
uv_version=0.13.9
uv=.tools/uv/bin/uv
if [[ ! -x $uv || $("$uv" --version) != "uv $uv_version"* ]]; then
    rm -rf .tools/uv
    "$python" -m venv .tools/uv
    .tools/uv/bin/python -m pip install --quiet "uv==$uv_version"
fi
