#!/usr/bin/env bash
# Everything the demo and the tests need, from nothing: the virtual environment
# at .venv with modelship installed (editable, all extras), and the helm binary.
# Idempotent and quick when nothing changed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
    "$python" -m venv .venv
fi
stamp=.venv/.modelship-installed
want=$(cat pyproject.toml hack/setup.sh | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e '.[all,dev]'
    echo "$want" >"$stamp"
fi
hack/install-helm.sh >/dev/null
