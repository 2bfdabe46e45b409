#!/usr/bin/env bash
# Cache benchmark (not a test): what a cache hit costs against a proxied
# call, in one run, with the plugin chain on (default-router, pii-redactor,
# the openai adapter, model-prices):
#
# - the null proxy forwarding to the mock (the floor any proxy pays);
# - the gateway with a memory cache, each request sent with
#   `cache: {no-cache, no-store}` (a miss: the whole proxied path plus the
#   cache's key);
# - the same gateway answering the same request from memory (a hit);
# - a disk cache and a Redis cache (when Redis answers on 127.0.0.1) hit;
# - the memory a memory cache of 10 000 entries uses (RSS before and
#   after 10 000 distinct requests, and the cache's own byte count).
#
#   make build && bash tests/load/cache.sh [seconds-per-run]
#
# Needs wrk. Sends traffic only to 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS="${1:-10}"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
cargo build --release -q -p switchyard-e2e --bin mock-upstream
cargo build --release -q -p switchyard --example null_proxy
[ -x target/release/switchyard ] || { echo "run make build first"; exit 1; }

WORK="$(mktemp -d)"
PREFIX="sy_cache_load_$$:"
HAVE_REDIS=0
redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && HAVE_REDIS=1
PIDS=()
cleanup() {
  kill "${PIDS[@]}" 2>/dev/null || true
  [ "$HAVE_REDIS" = 1 ] && redis-cli -h 127.0.0.1 --scan --pattern "${PREFIX}*" | xargs -r redis-cli -h 127.0.0.1 del >/dev/null
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
wait_up() { for _ in $(seq 200); do curl -sf "127.0.0.1:$1/health/liveliness" >/dev/null && return 0; sleep 0.05; done; }
mkdir -p "$WORK/plugins"
for p in default-router pii-redactor openai model-prices; do cp "target/plugins/$p.wasm" "$WORK/plugins/"; done

NULL_PORT=$(free_port)
target/release/examples/null_proxy --port "$NULL_PORT" --upstream "$MOCK_URL" &
NULL_PID=$!
PIDS+=($NULL_PID)

gateway() { # name cache-params-yaml; sets <name>_PORT and <name>_PID
  local dir="$WORK/$1" port
  port=$(free_port)
  mkdir -p "$dir"
  cat > "$dir/config.yaml" <<YAML
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_base: "$MOCK_URL", api_key: sk-load}
    model_info: {input_cost_per_token: 0.0000025, output_cost_per_token: 0.00001}
litellm_settings:
  cache: true
  cache_params: $2
router_settings:
  redis_key_prefix: "$PREFIX"
plugins:
  dir: $WORK/plugins
  router: default-router
  sanitizers: [pii-redactor]
  cost_rules: [model-prices]
YAML
  SWITCHYARD_LOG=warn target/release/switchyard serve --config "$dir/config.yaml" --host 127.0.0.1 --port "$port" > "$dir/log" 2>&1 &
  local pid=$!
  PIDS+=($pid)
  wait_up "$port"
  printf -v "${1}_PORT" '%s' "$port"
  printf -v "${1}_PID" '%s' "$pid"
}
gateway mem "{type: local}"
gateway disk "{type: disk, disk_cache_dir: $WORK/disk-cache}"
[ "$HAVE_REDIS" = 1 ] && gateway redis "{type: redis, host: 127.0.0.1, port: 6379}"

BODY='"model":"gpt-4o","messages":[{"role":"system","content":"You are a helpful support assistant."},{"role":"user","content":"My order arrived late and the box was damaged. How do I ask for a refund, and how long does it take?"}],"max_tokens":200'
lua() { # file extra-json-fields
  cat > "$1" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{$BODY$2}'
LUA
}
lua "$WORK/hit.lua" ""
lua "$WORK/miss.lua" ',"cache":{"no-cache":true,"no-store":true}'

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK_HZ=$(getconf CLK_TCK)
pct() { awk -v p="$1" '$1==p {v=$2; if (v ~ /us$/) {sub(/us/,"",v); print v} else if (v ~ /ms$/) {sub(/ms/,"",v); print v*1000} else if (v ~ /s$/) {sub(/s/,"",v); print v*1000000}}' "$2"; }
rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
errors() { awk '/Non-2xx|Socket errors/ {print}' "$1"; }
run() { # name url conns pid lua
  local before
  before=$(cpu_ticks "$4")
  wrk -t1 -c"$3" -d"${SECS}s" --latency -s "$5" "$2" > "$WORK/$1.txt"
  echo $(( $(cpu_ticks "$4") - before )) > "$WORK/$1.cpu"
}
cpu_per_req() { awk -v t="$(cat "$WORK/$1.cpu")" -v hz="$TICK_HZ" '/requests in/ {printf "%.1f", t * 1000000 / hz / $1}' "$WORK/$1.txt"; }

# Warm up, and store the entry each cache hits.
for p in "$mem_PORT" "$disk_PORT" ${redis_PORT:-}; do
  curl -sf "127.0.0.1:$p/v1/chat/completions" -H 'Content-Type: application/json' -d "{$BODY}" >/dev/null
  sleep 0.3
  wrk -t1 -c4 -d2s -s "$WORK/hit.lua" "http://127.0.0.1:$p/v1/chat/completions" >/dev/null
done
wrk -t1 -c4 -d2s -s "$WORK/miss.lua" "http://127.0.0.1:$mem_PORT/v1/chat/completions" >/dev/null
wrk -t1 -c4 -d2s -s "$WORK/hit.lua" "http://127.0.0.1:$NULL_PORT/v1/chat/completions" >/dev/null

TARGETS="null miss mem disk"
[ "$HAVE_REDIS" = 1 ] && TARGETS="$TARGETS redis"
for c in 1 64; do
  run "null-$c" "http://127.0.0.1:$NULL_PORT/v1/chat/completions" "$c" "$NULL_PID" "$WORK/hit.lua"
  run "miss-$c" "http://127.0.0.1:$mem_PORT/v1/chat/completions" "$c" "$mem_PID" "$WORK/miss.lua"
  run "mem-$c" "http://127.0.0.1:$mem_PORT/v1/chat/completions" "$c" "$mem_PID" "$WORK/hit.lua"
  run "disk-$c" "http://127.0.0.1:$disk_PORT/v1/chat/completions" "$c" "$disk_PID" "$WORK/hit.lua"
  [ "$HAVE_REDIS" = 1 ] && run "redis-$c" "http://127.0.0.1:$redis_PORT/v1/chat/completions" "$c" "$redis_PID" "$WORK/hit.lua"
done
for t in $TARGETS; do for c in 1 64; do
  e=$(errors "$WORK/$t-$c.txt"); [ -n "$e" ] && echo "$t-$c: $e"
done; done

label() {
  case "$1" in
    null) echo "null proxy, forwarding to the mock";;
    miss) echo "gateway, proxied (memory cache, no-cache + no-store)";;
    mem) echo "gateway, memory hit";;
    disk) echo "gateway, disk hit";;
    redis) echo "gateway, Redis hit (127.0.0.1)";;
  esac
}
echo "| path | p50, c=1 | p99, c=1 | CPU per request, c=1 | throughput, c=64 | CPU per request, c=64 |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for t in $TARGETS; do
  echo "| $(label "$t") | $(pct 50% "$WORK/$t-1.txt") µs | $(pct 99% "$WORK/$t-1.txt") µs | $(cpu_per_req "$t-1") µs | $(rps "$WORK/$t-64.txt") req/s | $(cpu_per_req "$t-64") µs |"
done

# Memory of 10 000 entries: distinct prompts (a counter in the message).
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
gateway fill "{type: local}"
cat > "$WORK/fill.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  if n > 10000 then return wrk.format("GET", "/health/liveliness") end
  return wrk.format(nil, "/v1/chat/completions", nil,
    '{"model":"gpt-4o","messages":[{"role":"user","content":"Question number ' .. n .. ': how do I ask for a refund?"}],"max_tokens":200}')
end
LUA
curl -sf "127.0.0.1:$fill_PORT/v1/chat/completions" -H 'Content-Type: application/json' -d "{$BODY}" >/dev/null
sleep 1
BEFORE=$(rss_kb "$fill_PID")
# One connection: the counter is per connection, so every request is new.
wrk -t1 -c1 -d60s -s "$WORK/fill.lua" "http://127.0.0.1:$fill_PORT" > "$WORK/fill.txt" &
WRK_PID=$!
for _ in $(seq 600); do
  n=$(curl -sf "127.0.0.1:$fill_PORT/health/readiness" | python3 -c 'import json,sys; print(json.load(sys.stdin)["cache"].get("entries", 0))')
  [ "$n" -ge 10000 ] && break
  sleep 0.1
done
kill "$WRK_PID" 2>/dev/null || true
sleep 1
AFTER=$(rss_kb "$fill_PID")
STATUS=$(curl -sf "127.0.0.1:$fill_PORT/health/readiness" | python3 -c 'import json,sys; c=json.load(sys.stdin)["cache"]; print(c.get("entries"), c.get("bytes"))')
echo
echo "Memory cache of 10 000 entries (each a 0.7 KB completion): entries, bytes counted by the cache: $STATUS; RSS $((BEFORE/1024)) MiB before, $((AFTER/1024)) MiB after (+$(( (AFTER-BEFORE)/1024 )) MiB)."
