#!/usr/bin/env bash
# Azurite (Microsoft's Azure Storage emulator, npm package `azurite`), pinned, for the az://
# storage tests; they start it themselves and skip, saying why, when it is not installed.
# Installs into .tools/azurite (or $MODELSHIP_AZURITE_DIR). Idempotent; without npm it says
# so and leaves the tests to skip.
set -euo pipefail
version=3.37.0
root=$(cd "$(dirname "$0")/.." && pwd)
target=${MODELSHIP_AZURITE_DIR:-$root/.tools/azurite}
installed=$target/node_modules/azurite/package.json
if [[ -f $installed ]] && grep -q "\"version\": \"$version\"" "$installed"; then
    exit 0
fi
if ! command -v npm >/dev/null; then
    echo "npm not found: the az:// tests will skip (install Node.js and npm, then rerun $0)" >&2
    exit 0
fi
mkdir -p "$target"
npm install --prefix "$target" --no-save --no-audit --no-fund --loglevel=error "azurite@$version" >/dev/null
"$target/node_modules/.bin/azurite-blob" --version
