#!/usr/bin/env bash
# Builds this plugin into a WebAssembly component with componentize-js.
#
#   ./build.sh [OUT.wasm]
#
# OUT.wasm defaults to target/<this folder's name>.wasm beside this script.
# The world (router-plugin, sanitizer-plugin, ...) is read from app.js's
# `// switchyard-world:` line. The WIT contract is taken from
# $SWITCHYARD_WIT, else from the nearest wit/ folder (holding worlds.wit) in
# this folder or above it. componentize-js is $COMPONENTIZE_JS, else this
# folder's node_modules (`npm install`).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/target/$(basename "$here").wasm}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac

world="$(sed -n 's|^// switchyard-world: *\([a-z-]*\).*|\1|p' "$here/app.js" | head -1)"
if [ -z "$world" ]; then
    echo "build.sh: app.js has no '// switchyard-world: <world>' line (router-plugin, sanitizer-plugin, ...)" >&2
    exit 1
fi

wit="${SWITCHYARD_WIT:-}"
if [ -z "$wit" ]; then
    d="$here"
    while :; do
        if [ -f "$d/wit/worlds.wit" ]; then wit="$d/wit"; break; fi
        [ "$d" = / ] && break
        d="$(dirname "$d")"
    done
fi
if [ -z "$wit" ]; then
    echo "build.sh: no Switchyard wit/ folder found; copy it beside app.js or set SWITCHYARD_WIT" >&2
    exit 1
fi

cjs="${COMPONENTIZE_JS:-$here/node_modules/.bin/componentize-js}"
if [ ! -x "$cjs" ]; then
    echo "build.sh: componentize-js not found at $cjs: run \`npm install\` here (or set COMPONENTIZE_JS)" >&2
    exit 1
fi

# Quick check before the half-minute build: app.js parses.
node --check "$here/app.js"

mkdir -p "$(dirname "$out")" "$here/target"
# componentize-js reads the WIT inside a sandbox that sees only the current
# directory: hand it a copy under target/, by a relative path.
rm -rf "$here/target/wit" && cp -r "$wit" "$here/target/wit"
cd "$here"
# No fetch() and no incoming HTTP: the gateway gives plugins no network.
"$cjs" --wit target/wit --world-name "$world" --disable http fetch-event -o "$out" app.js
echo "built $out ($(wc -c <"$out") bytes)"
