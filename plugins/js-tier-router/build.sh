#!/usr/bin/env bash
# Builds js-tier-router into a WebAssembly component with componentize-js.
#
#   plugins/js-tier-router/build.sh [OUT.wasm]
#
# OUT.wasm defaults to target/plugins/js-tier-router.wasm under the
# repository root. componentize-js comes from sdk/js/node_modules (`make
# setup` installs it there) or $COMPONENTIZE_JS.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$repo/target/plugins/js-tier-router.wasm}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
cjs="${COMPONENTIZE_JS:-$repo/sdk/js/node_modules/.bin/componentize-js}"
if [ ! -x "$cjs" ]; then
    echo "build.sh: $cjs not found: run \`make setup\` (npm ci in sdk/js)" >&2
    exit 1
fi
mkdir -p "$(dirname "$out")"
# componentize-js reads the WIT inside a sandbox that sees only the current
# directory: run from the repository root, with relative paths.
cd "$repo"
# No fetch() and no incoming HTTP: the gateway gives plugins no network.
"$cjs" --wit wit --world-name router-plugin --disable http fetch-event -o "$out" plugins/js-tier-router/app.js
echo "built $out ($(wc -c <"$out") bytes)"
