#!/usr/bin/env bash
# Everything the demo and the tests need, from nothing: the virtual environment at
# .venv with exactly the packages uv.lock pins (every extra, modelship itself editable),
# and the helm binaries. Idempotent and quick when nothing changed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=${PYTHON:-python3}
hack/install-uv.sh
# A venv of the standard library's own making, so it has pip for one-off experiments
# (uv sync leaves pip alone).
if [[ ! -x .venv/bin/python ]]; then
    "$python" -m venv .venv
fi
stamp=.venv/.modelship-installed
want=$(cat pyproject.toml uv.lock hack/setup.sh hack/install-uv.sh | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
    # --locked stops, saying so, when uv.lock no longer matches pyproject.toml (run
    # `make lock`); sync removes whatever else was installed into .venv.
    UV_PROJECT_ENVIRONMENT=.venv .tools/uv/bin/uv sync --locked --all-extras \
        --no-python-downloads --quiet
    echo "$want" >"$stamp"
fi
hack/install-torch.sh
hack/install-helm.sh >/dev/null
