#!/usr/bin/env bash
# Config reload benchmark (not a test): what reloading the config file
# costs requests in flight. One gateway on the mock upstream (built-in
# plugins: default-router, the openai adapter, model-prices), measured by
# wrk at concurrency 1 (p50, p99) and 64 (throughput, non-2xx), first
# quiet, then while the config file is rewritten every 250 ms (a group
# added and removed in turn, so every reload changes the deployment table
# and re-initialises the router). Prints the table, the reloads applied
# and the slowest and median reload as the gateway logged them.
#
#   make build && bash tests/load/reload.sh [seconds-per-run]
#
# Needs wrk and python3. Sends traffic only to 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS="${1:-8}"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
cargo build --release -q -p switchyard-e2e --bin mock-upstream
[ -x target/release/switchyard ] || { echo "run make build first"; exit 1; }

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  kill "${PIDS[@]}" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

mkfifo "$WORK/mock-in"
target/release/mock-upstream --seconds 900 < "$WORK/mock-in" > "$WORK/mock-url" &
PIDS+=($!)
exec 3> "$WORK/mock-in"
for _ in $(seq 100); do [ -s "$WORK/mock-url" ] && break; sleep 0.05; done
MOCK_URL="$(cat "$WORK/mock-url")"

config() { # extra-group?
  cat <<YAML
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_base: "$MOCK_URL", api_key: sk-load}
    model_info: {id: main, input_cost_per_token: 0.0000025, output_cost_per_token: 0.00001}
YAML
  if [ "$1" = yes ]; then
    cat <<YAML
  - model_name: extra
    litellm_params: {model: openai/gpt-4o-mini, api_base: "$MOCK_URL", api_key: sk-load}
YAML
  fi
  cat <<YAML
general_settings:
  master_key: sk-master
YAML
}
config no > "$WORK/config.yaml"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SWITCHYARD_LOG=warn,switchyard::reload=info target/release/switchyard serve --config "$WORK/config.yaml" \
  --host 127.0.0.1 --port "$PORT" 2> "$WORK/log" &
PIDS+=($!)
for _ in $(seq 200); do curl -sf "127.0.0.1:$PORT/health/liveliness" >/dev/null && break; sleep 0.05; done

cat > "$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-master"
wrk.body = '{"model":"gpt-4o","messages":[{"role":"user","content":"How do I ask for a refund?"}],"max_tokens":200}'
LUA
URL="http://127.0.0.1:$PORT/v1/chat/completions"
pct() { awk -v p="$1" '$1==p {v=$2; if (v ~ /us$/) {sub(/us/,"",v); print v} else if (v ~ /ms$/) {sub(/ms/,"",v); print v*1000} else if (v ~ /s$/) {sub(/s/,"",v); print v*1000000}}' "$2"; }
rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
errors() { awk '/Non-2xx|Socket errors/ {printf "%s ", $0} END {print ""}' "$1"; }

churn() { # rewrite the file every 250 ms until killed
  local extra=yes
  while true; do
    config "$extra" > "$WORK/config.tmp" && mv "$WORK/config.tmp" "$WORK/config.yaml"
    if [ "$extra" = yes ]; then extra=no; else extra=yes; fi
    sleep 0.25
  done
}
run() { # name
  wrk -t1 -c1 -d"${SECS}s" --latency -s "$WORK/post.lua" "$URL" > "$WORK/$1-c1.txt"
  wrk -t2 -c64 -d"${SECS}s" --latency -s "$WORK/post.lua" "$URL" > "$WORK/$1-c64.txt"
}

wrk -t1 -c4 -d2s -s "$WORK/post.lua" "$URL" >/dev/null
run quiet
before=$(grep -c "config reloaded" "$WORK/log" || true)
churn & CHURN=$!
PIDS+=($CHURN)
run reloading
kill "$CHURN"
sleep 0.5
after=$(grep -c "config reloaded" "$WORK/log" || true)

echo "| run | p50, c1 | p99, c1 | throughput, c64 | p99, c64 | failed (wrk) |"
echo "| --- | ---: | ---: | ---: | ---: | --- |"
for n in quiet reloading; do
  echo "| $n | $(pct 50% "$WORK/$n-c1.txt") µs | $(pct 99% "$WORK/$n-c1.txt") µs | $(rps "$WORK/$n-c64.txt") req/s | $(pct 99% "$WORK/$n-c64.txt") µs | $(errors "$WORK/$n-c1.txt")$(errors "$WORK/$n-c64.txt") |"
done
echo
echo "reloads applied while loaded: $((after - before)); failed: $(grep -c 'config reload failed' "$WORK/log" || true)"
grep "config reloaded" "$WORK/log" | sed -n 's/.*ms=\([0-9]*\).*/\1/p' | sort -n | awk '{a[NR]=$1} END {if (NR) printf "reload time (ms): median %s, slowest %s, of %d\n", a[int((NR+1)/2)], a[NR], NR}'
