#!/usr/bin/env bash
# Load benchmark (not a test): the gateway's added latency and throughput
# against a direct call to the same mock upstream, measured in one run, and
# the gateway's resident memory idle and under load. The plugin chain is on:
# default-router, pii-redactor, the openai adapter, model-prices. A "null
# proxy" (host/examples/null_proxy.rs: the gateway's HTTP stack forwarding
# bytes, no plugins) is measured in the same run: the floor any proxy pays
# on this machine.
#
#   make build && bash tests/load/run.sh [seconds-per-run]
#
# Needs wrk (apt-get install wrk). Sends traffic only to 127.0.0.1 and stops
# by itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS="${1:-10}"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
cargo build --release -q -p switchyard-e2e --bin mock-upstream
cargo build --release -q -p switchyard --example null_proxy
[ -x target/release/switchyard ] || { echo "run make build first"; exit 1; }

WORK="$(mktemp -d)"
cleanup() { kill "${GW_PID:-}" "${MOCK_PID:-}" "${NULL_PID:-}" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

# The mock serves until its stdin closes; keep a pipe open to it.
mkfifo "$WORK/mock-in"
target/release/mock-upstream --seconds 900 < "$WORK/mock-in" > "$WORK/mock-url" &
MOCK_PID=$!
exec 3> "$WORK/mock-in"
for _ in $(seq 100); do [ -s "$WORK/mock-url" ] && break; sleep 0.05; done
MOCK_URL="$(cat "$WORK/mock-url")"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
NULL_PORT=$(free_port)
target/release/examples/null_proxy --port "$NULL_PORT" --upstream "$MOCK_URL" &
NULL_PID=$!
# Only the plugins on the measured path, so the memory figure is theirs.
mkdir -p "$WORK/plugins"
for p in default-router pii-redactor openai model-prices; do cp "target/plugins/$p.wasm" "$WORK/plugins/"; done
cat > "$WORK/config.yaml" <<YAML
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_base: "$MOCK_URL", api_key: sk-load}
    model_info: {input_cost_per_token: 0.0000025, output_cost_per_token: 0.00001}
plugins:
  dir: $WORK/plugins
  router: default-router
  sanitizers: [pii-redactor]
  cost_rules: [model-prices]
YAML
SWITCHYARD_LOG=warn target/release/switchyard serve --config "$WORK/config.yaml" --host 127.0.0.1 --port "$PORT" &
GW_PID=$!
for _ in $(seq 200); do curl -sf "127.0.0.1:$PORT/health/liveliness" >/dev/null && break; sleep 0.05; done

cat > "$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-load"
wrk.body = '{"model":"gpt-4o","messages":[{"role":"system","content":"You are a helpful support assistant."},{"role":"user","content":"My order arrived late and the box was damaged. How do I ask for a refund, and how long does it take?"}],"max_tokens":200}'
LUA

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$GW_PID/status"; }
# CPU time (user + system) a process has used, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK_HZ=$(getconf CLK_TCK)
# wrk prints "50%  1.23ms"; convert to microseconds.
pct() { awk -v p="$1" '$1==p {v=$2; if (v ~ /us$/) {sub(/us/,"",v); print v} else if (v ~ /ms$/) {sub(/ms/,"",v); print v*1000} else if (v ~ /s$/) {sub(/s/,"",v); print v*1000000}}' "$2"; }
rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
errors() { awk '/Non-2xx|Socket errors/ {print}' "$1"; }

run() { # name url threads conns [pid whose CPU time to count]
  local before=0
  [ -n "${5:-}" ] && before=$(cpu_ticks "$5")
  wrk -t"$3" -c"$4" -d"${SECS}s" --latency -s "$WORK/post.lua" "$2" > "$WORK/$1.txt"
  [ -n "${5:-}" ] && echo $(( $(cpu_ticks "$5") - before )) > "$WORK/$1.cpu"
  return 0
}
# CPU µs per request of a run: the process's CPU time over the requests wrk made.
cpu_per_req() { awk -v t="$(cat "$WORK/$1.cpu")" -v hz="$TICK_HZ" '/requests in/ {printf "%.0f", t * 1000000 / hz / $1}' "$WORK/$1.txt"; }

# Warm up every path (connections, instances, caches).
wrk -t1 -c4 -d2s -s "$WORK/post.lua" "$MOCK_URL/chat/completions" >/dev/null
wrk -t1 -c4 -d2s -s "$WORK/post.lua" "http://127.0.0.1:$NULL_PORT/v1/chat/completions" >/dev/null
wrk -t1 -c4 -d2s -s "$WORK/post.lua" "http://127.0.0.1:$PORT/v1/chat/completions" >/dev/null
sleep 1
IDLE_KB=$(rss_kb)

run direct-1 "$MOCK_URL/chat/completions" 1 1
run null-1 "http://127.0.0.1:$NULL_PORT/v1/chat/completions" 1 1
run gateway-1 "http://127.0.0.1:$PORT/v1/chat/completions" 1 1
run direct-64 "$MOCK_URL/chat/completions" 2 64
run null-64 "http://127.0.0.1:$NULL_PORT/v1/chat/completions" 2 64 "$NULL_PID"
( peak=0; while kill -0 "$GW_PID" 2>/dev/null; do r=$(rss_kb); [ "$r" -gt "$peak" ] && peak=$r && echo "$peak" > "$WORK/peak"; sleep 0.2; done ) &
SAMPLER=$!
run gateway-64 "http://127.0.0.1:$PORT/v1/chat/completions" 2 64 "$GW_PID"
kill "$SAMPLER" 2>/dev/null || true
PEAK_KB=$(cat "$WORK/peak" 2>/dev/null || echo 0)

for f in direct-1 null-1 gateway-1 direct-64 null-64 gateway-64; do
  e=$(errors "$WORK/$f.txt"); [ -n "$e" ] && echo "$f: $e"
done

row() { # label percentile conns
  d=$(pct "$2" "$WORK/direct-$3.txt"); n=$(pct "$2" "$WORK/null-$3.txt"); g=$(pct "$2" "$WORK/gateway-$3.txt")
  echo "| $1 | $d µs | $n µs (+$(awk "BEGIN{print $n-$d}")) | $g µs | $(awk "BEGIN{print $g-$d}") µs |"
}
cat <<REPORT
| measure | direct to mock | null proxy (added) | through gateway | added by gateway |
| --- | ---: | ---: | ---: | ---: |
$(row "p50, concurrency 1" 50% 1)
$(row "p99, concurrency 1" 99% 1)
$(row "p50, concurrency 64" 50% 64)
$(row "p99, concurrency 64" 99% 64)
| throughput, concurrency 64 | $(rps "$WORK/direct-64.txt") req/s | $(rps "$WORK/null-64.txt") req/s | $(rps "$WORK/gateway-64.txt") req/s | |
| proxy CPU per request, concurrency 64 | | $(cpu_per_req null-64) µs | $(cpu_per_req gateway-64) µs | |
| resident memory | | | idle $((IDLE_KB/1024)) MiB, peak under load $((PEAK_KB/1024)) MiB | |
REPORT
