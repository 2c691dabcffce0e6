#!/usr/bin/env bash
# The whole test suite: lint, type check, then unit, integration and e2e tests
# (e2e skip themselves, saying why, when no cluster is reachable).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
hack/setup.sh
hack/install-prometheus.sh
hack/install-azurite.sh
export PATH="$root/.venv/bin:$root/.tools/bin:$PATH"
ruff check .
ruff format --check .
mypy
pytest "$@"
