#!/usr/bin/env bash
# Builds prompt-guard into a WebAssembly component with componentize-py.
#
#   plugins/prompt-guard/build.sh [OUT.wasm]
#
# OUT.wasm defaults to target/plugins/prompt-guard.wasm under the repository
# root; a relative OUT.wasm is taken from the current directory.
# Needs componentize-py 0.25 (`pip install componentize-py==0.25.1`).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
world=sanitizer-plugin
# switchyard_log.py (exceptions logged before they trap) comes from the
# Python template, the one copy of it in the repository.
sdk="$repo/sdk/python/template"
out="${1:-$repo/target/plugins/prompt-guard.wasm}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac

# Python bindings of the world, for editors and the quick check below.
# componentize-py generates its own copy when it builds, so these never go
# into the component. Regenerated when a .wit file is newer.
bindings="$repo/target/bindings/python/$world"
if [ ! -f "$bindings/.stamp" ] || [ -n "$(find "$repo/wit" -name '*.wit' -newer "$bindings/.stamp")" ]; then
    rm -rf "$bindings"
    componentize-py -q -d "$repo/wit" -w "$world" bindings "$bindings"
    touch "$bindings/.stamp"
fi

# Quick check (a second instead of a minute): the module imports, has the
# classes componentize-py looks for, and `describe` works. Needs Python 3.11+
# (the bindings use typing.Self); skipped on older interpreters.
if python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$here:$sdk:$bindings" python3 -c '
import app
assert app.WitWorld().describe().name == "prompt-guard"
assert callable(app.Sanitizer.sanitize)
'
fi

mkdir -p "$(dirname "$out")"
cd "$here"
PYTHONDONTWRITEBYTECODE=1 componentize-py -d "$repo/wit" -w "$world" componentize -p "$here" -p "$sdk" app -o "$out"
echo "built $out ($(wc -c <"$out") bytes)"
