#!/usr/bin/env bash
# Set-up time from scratch, before and after the lockfile, side by side in one run:
# hack/setup.sh of commit BEFORE (pip install -e '.[all,dev]') against the working
# tree's (uv sync of uv.lock). Each runs in a fresh copy of the repository in a temp
# directory: first with empty download caches (cold), then again from scratch with the
# caches the cold run filled (warm), then once more in the same copy (nothing changed).
# Prints a Markdown table of wall-clock seconds. Nothing outside the temp directory is
# touched (pip, uv and npm caches live in it too).
# Usage: hack/bench/setup_bench.sh [BEFORE_COMMIT]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
before=${1:-43b38f6}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PIP_CACHE_DIR=$work/cache/pip UV_CACHE_DIR=$work/cache/uv npm_config_cache=$work/cache/npm

copy_before() { git -C "$root" archive "$before" | tar -x -C "$1"; }
copy_after() {
    (cd "$root" && git ls-files --cached --others --exclude-standard -z | tar --null -T - -cf -) |
        tar -x -C "$1"
}

# seconds VARIANT DIR: runs the copy's hack/setup.sh, prints its wall-clock seconds.
seconds() {
    local start end
    start=$(date +%s%N)
    if ! (cd "$2" && hack/setup.sh) >>"$work/$1.log" 2>&1; then
        cat "$work/$1.log" >&2
        exit 1
    fi
    end=$(date +%s%N)
    printf '%d.%02d' $(((end - start) / 1000000000)) $(((end - start) / 10000000 % 100))
}

smoke="import modelship.cli, modelship.handlers, skl2onnx, onnxruntime, pytriton, tritonclient.grpc, boto3, kmock, yaml"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A result
packages=()
for round in cold warm; do
    for variant in before after; do
        dir=$work/$variant-$round
        mkdir -p "$dir"
        "copy_$variant" "$dir"
        result[$variant-$round]=$(seconds "$variant" "$dir")
        # Both environments must work, not just exist.
        "$dir/.venv/bin/python" -c "$smoke" >>"$work/$variant.log" 2>&1
        if [[ $round == warm ]]; then
            result[$variant-again]=$(seconds "$variant" "$dir")
            packages+=("$variant: $("$dir/.venv/bin/python" -m pip list 2>/dev/null | tail -n +3 | wc -l)")
        fi
    done
done

echo "| set-up | cold caches | warm caches | nothing changed |"
echo "|---|---|---|---|"
echo "| before ($before, pip) | ${result[before-cold]} s | ${result[before-warm]} s | ${result[before-again]} s |"
echo "| after (uv.lock, uv sync) | ${result[after-cold]} s | ${result[after-warm]} s | ${result[after-again]} s |"
echo
echo "Packages in .venv: ${packages[*]}. Load average (1, 5, 15 min) before: $load_before;"
echo "after: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores."
