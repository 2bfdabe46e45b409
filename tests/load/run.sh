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
# Two more gateways measure keys, limits and spend on top of the chain: a
# virtual key with a budget and an rpm limit (high enough never to refuse)
# on the embedded default (SQLite, in-memory counters), and the same on
# PostgreSQL + Redis when both answer on 127.0.0.1 (one schema and key
# prefix of its own, removed at the end).
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
PG_SCHEMA="sy_load_$$"
HAVE_PG=0
if psql -h 127.0.0.1 -U postgres -d test -qc "CREATE SCHEMA $PG_SCHEMA" >/dev/null 2>&1 && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then HAVE_PG=1; fi
cleanup() {
  kill "${GW_PID:-}" "${MOCK_PID:-}" "${NULL_PID:-}" "${KEYS_PID:-}" "${PG_PID:-}" 2>/dev/null || true
  [ "$HAVE_PG" = 1 ] && psql -h 127.0.0.1 -U postgres -d test -qc "DROP SCHEMA $PG_SCHEMA CASCADE" >/dev/null 2>&1
  [ "$HAVE_PG" = 1 ] && redis-cli -h 127.0.0.1 --scan --pattern "$PG_SCHEMA*" | xargs -r redis-cli -h 127.0.0.1 del >/dev/null
  rm -rf "$WORK"
}
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

# The same chain behind keys: a master key, and a virtual key with a budget
# and an rpm limit that never refuse.
keys_config() { # dir general-settings-extra router-settings
  mkdir -p "$1"
  cat > "$1/config.yaml" <<YAML
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_base: "$MOCK_URL", api_key: sk-load}
    model_info: {input_cost_per_token: 0.0000025, output_cost_per_token: 0.00001}
general_settings:
  master_key: sk-master
$2
router_settings:
  num_retries: 0
$3
plugins:
  dir: $WORK/plugins
  router: default-router
  sanitizers: [pii-redactor]
  cost_rules: [model-prices]
YAML
}
start_keys() { # dir port; prints the pid
  SWITCHYARD_LOG=warn target/release/switchyard serve --config "$1/config.yaml" --host 127.0.0.1 --port "$2" > /dev/null 2>&1 &
  echo $!
}
wait_up() { for _ in $(seq 200); do curl -sf "127.0.0.1:$1/health/liveliness" >/dev/null && return 0; sleep 0.05; done; }
new_key() { # port; prints a virtual key with a budget and an rpm limit
  curl -sf "127.0.0.1:$1/key/generate" -H 'Authorization: Bearer sk-master' \
    -d '{"key_alias":"load","max_budget":1000000,"budget_duration":"30d","rpm_limit":100000000}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])'
}
KEYS_PORT=$(free_port)
keys_config "$WORK/keys" "" ""
KEYS_PID=$(start_keys "$WORK/keys" "$KEYS_PORT")
wait_up "$KEYS_PORT"
KEYS_KEY=$(new_key "$KEYS_PORT")
if [ "$HAVE_PG" = 1 ]; then
  PG_PORT=$(free_port)
  keys_config "$WORK/pg" "  database_url: \"postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3D$PG_SCHEMA\"" \
    "  redis_url: redis://127.0.0.1:6379
  redis_key_prefix: $PG_SCHEMA"
  PG_PID=$(start_keys "$WORK/pg" "$PG_PORT")
  wait_up "$PG_PORT"
  PG_KEY=$(new_key "$PG_PORT")
fi

lua_with_key() { # key file
  sed "s/Bearer sk-load/Bearer $1/" "$WORK/post.lua" > "$2"
}

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

run() { # name url threads conns [pid whose CPU time to count] [lua script]
  local before=0
  [ -n "${5:-}" ] && before=$(cpu_ticks "$5")
  wrk -t"$3" -c"$4" -d"${SECS}s" --latency -s "${6:-$WORK/post.lua}" "$2" > "$WORK/$1.txt"
  [ -n "${5:-}" ] && echo $(( $(cpu_ticks "$5") - before )) > "$WORK/$1.cpu"
  return 0
}
# CPU µs per request of a run: the process's CPU time over the requests wrk made.
cpu_per_req() { awk -v t="$(cat "$WORK/$1.cpu")" -v hz="$TICK_HZ" '/requests in/ {printf "%.0f", t * 1000000 / hz / $1}' "$WORK/$1.txt"; }

# Warm up every path (connections, instances, caches).
wrk -t1 -c4 -d2s -s "$WORK/post.lua" "$MOCK_URL/chat/completions" >/dev/null
wrk -t1 -c4 -d2s -s "$WORK/post.lua" "http://127.0.0.1:$NULL_PORT/v1/chat/completions" >/dev/null
wrk -t1 -c4 -d2s -s "$WORK/post.lua" "http://127.0.0.1:$PORT/v1/chat/completions" >/dev/null
lua_with_key "$KEYS_KEY" "$WORK/keys.lua"
wrk -t1 -c4 -d2s -s "$WORK/keys.lua" "http://127.0.0.1:$KEYS_PORT/v1/chat/completions" >/dev/null
if [ "$HAVE_PG" = 1 ]; then
  lua_with_key "$PG_KEY" "$WORK/pg.lua"
  wrk -t1 -c4 -d2s -s "$WORK/pg.lua" "http://127.0.0.1:$PG_PORT/v1/chat/completions" >/dev/null
fi
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
run keys-1 "http://127.0.0.1:$KEYS_PORT/v1/chat/completions" 1 1 "" "$WORK/keys.lua"
run keys-64 "http://127.0.0.1:$KEYS_PORT/v1/chat/completions" 2 64 "$KEYS_PID" "$WORK/keys.lua"
if [ "$HAVE_PG" = 1 ]; then
  run pg-1 "http://127.0.0.1:$PG_PORT/v1/chat/completions" 1 1 "" "$WORK/pg.lua"
  run pg-64 "http://127.0.0.1:$PG_PORT/v1/chat/completions" 2 64 "$PG_PID" "$WORK/pg.lua"
fi

for f in direct-1 null-1 gateway-1 direct-64 null-64 gateway-64 keys-1 keys-64 pg-1 pg-64; do
  [ -f "$WORK/$f.txt" ] || continue
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
keys_row() { # label run
  [ -f "$WORK/$2-1.txt" ] || return 0
  g1=$(pct 50% "$WORK/gateway-1.txt"); k1=$(pct 50% "$WORK/$2-1.txt")
  echo "| $1 | $k1 µs (+$(awk "BEGIN{print $k1-$g1}") µs) | $(rps "$WORK/$2-64.txt") req/s | $(cpu_per_req "$2-64") µs (+$(( $(cpu_per_req "$2-64") - $(cpu_per_req gateway-64) )) µs) |"
}
cat <<REPORT

Keys, limits and spend on top of the plugin chain (a virtual key with a budget and an rpm limit; against "through gateway" above):

| gateway | p50, concurrency 1 (added) | throughput, concurrency 64 | CPU per request, concurrency 64 (added) |
| --- | ---: | ---: | ---: |
| no keys (above) | $(pct 50% "$WORK/gateway-1.txt") µs | $(rps "$WORK/gateway-64.txt") req/s | $(cpu_per_req gateway-64) µs |
$(keys_row "virtual key, SQLite, memory counters" keys)
$(keys_row "virtual key, PostgreSQL + Redis" pg)
REPORT
