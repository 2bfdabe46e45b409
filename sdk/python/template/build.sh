#!/usr/bin/env bash
# Builds this plugin into a WebAssembly component with componentize-py.
#
#   ./build.sh [OUT.wasm]
#
# OUT.wasm defaults to target/<this folder's name>.wasm beside this script.
# The world (sanitizer-plugin, router-plugin, ...) is read from app.py's
# `# switchyard-world:` line.
# The WIT contract is taken from $SWITCHYARD_WIT, else from the nearest
# wit/ folder (holding worlds.wit) in this folder or above it.
# Needs componentize-py 0.25 (`pip install componentize-py==0.25.1`).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
world="$(sed -n 's|^# switchyard-world: *\([a-z-]*\).*|\1|p' "$here/app.py" | head -1)"
if [ -z "$world" ]; then
    echo "build.sh: app.py has no '# switchyard-world: <world>' line (sanitizer-plugin, router-plugin, ...)" >&2
    exit 1
fi
out="${1:-$here/target/$(basename "$here").wasm}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac

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
    echo "build.sh: no Switchyard wit/ folder found; copy it beside app.py or set SWITCHYARD_WIT" >&2
    exit 1
fi

# Python bindings, to read and for the quick check below (componentize-py
# generates its own copy when it builds). Regenerated when a .wit changes.
bindings="$here/target/bindings"
if [ ! -f "$bindings/.stamp" ] || [ -n "$(find "$wit" -name '*.wit' -newer "$bindings/.stamp")" ]; then
    rm -rf "$bindings"
    componentize-py -q -d "$wit" -w "$world" bindings "$bindings"
    touch "$bindings/.stamp"
fi

# Quick check before the minute-long build: app.py imports, has the classes
# componentize-py looks for, and describe() works. Needs Python 3.11+.
if python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$here:$bindings" python3 -c '
import app
print("describe:", app.WitWorld().describe().name)
'
fi

mkdir -p "$(dirname "$out")"
cd "$here"
PYTHONDONTWRITEBYTECODE=1 componentize-py -d "$wit" -w "$world" componentize -p "$here" app -o "$out"
echo "built $out ($(wc -c <"$out") bytes)"
