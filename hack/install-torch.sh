#!/usr/bin/env bash
# PyTorch's CPU build into .venv, for packaging PyTorch networks (tests/unit/serving/
# test_packaging_torch.py, the Triton model zoo test, hack/bench/families_bench.py). Not in
# pyproject.toml/uv.lock: plain `torch` from PyPI is the CUDA build, gigabytes of it. It comes
# from a wheel on disk (TORCH_WHEELS, /opt/wheels by default) with its few pure-Python
# dependencies from PyPI; with no wheel there, nothing is installed and the PyTorch tests skip,
# saying so. Idempotent; run after every `uv sync`, which removes what uv.lock does not pin.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=${VENV:-.venv}/bin/python
if "$python" -c 'import torch' 2>/dev/null; then
    exit 0
fi
shopt -s nullglob
wheels=("${TORCH_WHEELS:-/opt/wheels}"/torch-*+cpu-cp3*-manylinux*_x86_64.whl)
if ((${#wheels[@]} == 0)); then
    echo "install-torch: no PyTorch CPU wheel in ${TORCH_WHEELS:-/opt/wheels}; the PyTorch" \
        "tests will skip (install it: pip install torch --index-url" \
        "https://download.pytorch.org/whl/cpu)" >&2
    exit 0
fi
# The one matching this interpreter (cp311 for Python 3.11), if several.
tag=$("$python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
for wheel in "${wheels[@]}"; do
    if [[ $(basename "$wheel") == *"-$tag-$tag-"* ]]; then
        .tools/uv/bin/uv pip install --quiet --python "$python" "$wheel"
        exit 0
    fi
done
echo "install-torch: no PyTorch CPU wheel for $tag in ${TORCH_WHEELS:-/opt/wheels}; the" \
    "PyTorch tests will skip" >&2
