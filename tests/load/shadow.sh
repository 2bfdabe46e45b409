#!/usr/bin/env bash
# Shadow rollouts benchmark (not a test): what a shadow costs the live path,
# in one run, with the plugin chain on (default-router, pii-redactor, the
# openai adapter, model-prices). Three gateways on the same mock upstream:
#
# - none: no shadow configured (the hooks read one atomic flag);
# - router: default-router shadowed by a copy of itself, sample 1.0;
# - chain: all four plugins shadowed by copies of themselves, sample 1.0
#   (four candidate calls per request, each on its shadow's own thread).
#
# Each is measured at concurrency 1 (p50, p99) and at 64 connections
# (throughput, CPU per request: the process's CPU time, candidates'
# threads included, over the requests served), in two rounds in
# alternating order. After the runs, each shadow's compared, dropped and
# error counts are printed (`GET /admin/plugins/{name}/shadow`).
#
#   make build && bash tests/load/shadow.sh [seconds-per-run]
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

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

CHAIN=(default-router pii-redactor openai model-prices)
mkdir -p "$WORK/plugins" "$WORK/plugins-shadow"
for p in "${CHAIN[@]}"; do
  cp "target/plugins/$p.wasm" "$WORK/plugins/"
  cp "target/plugins/$p.wasm" "$WORK/plugins-shadow/"
done

declare -A PORT PID
start() { # name shadow-section
  local name=$1 shadow=$2
  mkdir -p "$WORK/$name"
  cat > "$WORK/$name/config.yaml" <<YAML
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_base: "$MOCK_URL", api_key: sk-load}
    model_info: {input_cost_per_token: 0.0000025, output_cost_per_token: 0.00001}
general_settings:
  master_key: sk-master
plugins:
  dir: $WORK/plugins
  router: default-router
  sanitizers: [pii-redactor]
  cost_rules: [model-prices]
$shadow
YAML
  PORT[$name]=$(free_port)
  SWITCHYARD_LOG=warn target/release/switchyard serve --config "$WORK/$name/config.yaml" \
    --host 127.0.0.1 --port "${PORT[$name]}" 2> "$WORK/$name/log" &
  PID[$name]=$!
  PIDS+=($!)
  for _ in $(seq 200); do curl -sf "127.0.0.1:${PORT[$name]}/health/liveliness" >/dev/null && return 0; sleep 0.05; done
  echo "$name did not start"; cat "$WORK/$name/log"; exit 1
}
start none ""
start router "  shadow: {default-router: default-router.wasm}"
start chain "  shadow: {default-router: default-router.wasm, pii-redactor: pii-redactor.wasm, openai: openai.wasm, model-prices: model-prices.wasm}"
NAMES=(none router chain)

cat > "$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-master"
wrk.body = '{"model":"gpt-4o","messages":[{"role":"system","content":"You are a helpful support assistant."},{"role":"user","content":"My order arrived late and the box was damaged. How do I ask for a refund, and how long does it take?"}],"max_tokens":200}'
LUA

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK_HZ=$(getconf CLK_TCK)
pct() { awk -v p="$1" '$1==p {v=$2; if (v ~ /us$/) {sub(/us/,"",v); print v} else if (v ~ /ms$/) {sub(/ms/,"",v); print v*1000} else if (v ~ /s$/) {sub(/s/,"",v); print v*1000000}}' "$2"; }
rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
errors() { awk '/Non-2xx|Socket errors/ {print}' "$1"; }
measure() { # name round
  local url="http://127.0.0.1:${PORT[$1]}/v1/chat/completions"
  wrk -t1 -c1 -d"${SECS}s" --latency -s "$WORK/post.lua" "$url" > "$WORK/$1-$2-c1.txt"
  local before; before=$(cpu_ticks "${PID[$1]}")
  wrk -t2 -c64 -d"${SECS}s" --latency -s "$WORK/post.lua" "$url" > "$WORK/$1-$2-c64.txt"
  echo $(( $(cpu_ticks "${PID[$1]}") - before )) > "$WORK/$1-$2.cpu"
  for f in "$WORK/$1-$2-c1.txt" "$WORK/$1-$2-c64.txt"; do e=$(errors "$f"); [ -n "$e" ] && echo "$1: $e"; done
  return 0
}
cpu_per_req() { awk -v t="$(cat "$WORK/$1.cpu")" -v hz="$TICK_HZ" '/requests in/ {printf "%.1f", t * 1000000 / hz / $1}' "$WORK/$1-c64.txt"; }

for n in "${NAMES[@]}"; do
  wrk -t1 -c4 -d2s -s "$WORK/post.lua" "http://127.0.0.1:${PORT[$n]}/v1/chat/completions" >/dev/null
done
for n in "${NAMES[@]}"; do measure "$n" 1; done
for ((i=${#NAMES[@]}-1; i>=0; i--)); do measure "${NAMES[$i]}" 2; done

echo "| gateway | p50, concurrency 1 (rounds 1, 2) | p99, concurrency 1 (rounds 1, 2) | throughput, concurrency 64 (rounds 1, 2) | CPU per request, concurrency 64 (rounds 1, 2) |"
echo "| --- | ---: | ---: | ---: | ---: |"
for n in "${NAMES[@]}"; do
  echo "| $n | $(pct 50% "$WORK/$n-1-c1.txt") µs, $(pct 50% "$WORK/$n-2-c1.txt") µs | $(pct 99% "$WORK/$n-1-c1.txt") µs, $(pct 99% "$WORK/$n-2-c1.txt") µs | $(rps "$WORK/$n-1-c64.txt"), $(rps "$WORK/$n-2-c64.txt") req/s | $(cpu_per_req "$n-1") µs, $(cpu_per_req "$n-2") µs |"
done
echo
sleep 2
for n in router chain; do
  for p in "${CHAIN[@]}"; do
    out=$(curl -sf -H 'Authorization: Bearer sk-master' "127.0.0.1:${PORT[$n]}/admin/plugins/$p/shadow") || continue
    echo "$out" | python3 -c "import json,sys; r=json.load(sys.stdin); l=r['latency']; print('$n/$p: compared', r['compared'], 'agreements', r['agreements'], 'dropped', r['dropped'], 'errors', r['candidate_errors'], 'live p50', l['live'].get('p50_us'), 'us, candidate p50', l['candidate'].get('p50_us'), 'us')" || true
  done
done
