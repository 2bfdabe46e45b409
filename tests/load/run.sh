#!/usr/bin/env bash
# Load benchmark (not a test): what the gateway costs, beside what the
# alternatives cost, all measured in one run on the same mock upstream
# (tests/e2e/src/bin/mock-upstream.rs, a 757-byte chat completion, or its
# stream when asked):
#
#   direct    wrk straight to the mock
#   nginx     nginx as a keep-alive reverse proxy (when nginx is installed)
#   null      the null proxy (host/examples/null_proxy.rs): the gateway's
#             HTTP stack forwarding bytes, no plugins, parsing or state
#   bare      the gateway with only what every call needs: a router
#             (default-router) and an adapter (openai); no sanitiser, no
#             cost rule
#   chain     the plugin chain: default-router, pii-redactor, openai,
#             model-prices
#   all       the chain with everything else on: a master key and a virtual
#             key with a budget and an rpm limit (never refusing), spend in
#             SQLite, the memory cache (every request a miss), Prometheus
#             metrics, a webhook for alert events
#   hit       the `all` gateway answering from its memory cache
#   shared    `all` as replicas run it, when PostgreSQL and Redis answer on
#             127.0.0.1: spend in PostgreSQL (a schema of its own), limits
#             and the cache in Redis (a key prefix of its own); both removed
#             at the end
#
# For chat and stream, at concurrency 1 and 64: p50, p99, requests per
# second and the proxy's CPU time per request (user + system, all its
# processes); each gateway's idle and peak resident memory. The table is
# printed and written into docs/performance.md (between the run.sh
# markers) with the machine it ran on, unless --no-write.
#
#   base      the chain on another build of the gateway (BASELINE=path to
#             its binary, BASELINE_NAME=what the report calls it): a change
#             and the code before it in one run
#
#   make build && bash tests/load/run.sh [seconds-per-run] [--no-write]
#   bash tests/load/run.sh --soak [minutes]     # memory: RSS every 10 s
#
# The soak runs the `all` gateway at concurrency 64 (its cache bounded at
# 16 MiB, so it fills early) and fails when the last minute's RSS is more
# than 5 % above the second minute's.
#
# Needs wrk (apt-get install wrk); nginx is optional (apt-get install
# nginx-light). Sends traffic only to 127.0.0.1 and stops by itself.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

SECS=5
WRITE=1
SOAK_MIN=0
while [ $# -gt 0 ]; do
  case "$1" in
    --no-write) WRITE=0 ;;
    --soak) SOAK_MIN="${2:-10}"; [ $# -gt 1 ] && shift ;;
    *) SECS="$1" ;;
  esac
  shift
done
need wrk wrk
build_tools
start_mock
start_null

HAVE_NGINX=0
if command -v nginx >/dev/null; then
  HAVE_NGINX=1
  NGINX_PORT=$(free_port)
  mkdir -p "$WORK/nginx"
  MOCK_HOST="${MOCK_URL#http://}"; MOCK_PATH="/${MOCK_HOST#*/}"; MOCK_HOST="${MOCK_HOST%%/*}"
  [ "$MOCK_PATH" = "/$MOCK_HOST" ] && MOCK_PATH=""
  cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx;
  proxy_temp_path $WORK/nginx;
  upstream mock { server $MOCK_HOST; keepalive 128; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location /v1/ {
      proxy_pass http://mock$MOCK_PATH/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
CONF
  nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx"
  wait_port "$NGINX_PORT"
  on_exit "kill \$(cat '$WORK/nginx/nginx.pid') 2>/dev/null"
fi

start_hook_sink

MODEL="model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_base: \"$MOCK_URL\", api_key: sk-load}
    model_info: {input_cost_per_token: 0.0000025, output_cost_per_token: 0.00001}
router_settings:
  num_retries: 0"
CHAIN="plugins:
  dir: $WORK/CHAIN_DIR
  router: default-router
  sanitizers: [pii-redactor]
  cost_rules: [model-prices]"

mkdir -p "$WORK/bare" "$WORK/chain" "$WORK/all"
plugins_dir "$WORK/bare/plugins" default-router openai
plugins_dir "$WORK/chain/plugins" default-router pii-redactor openai model-prices
plugins_dir "$WORK/all/plugins" default-router pii-redactor openai model-prices
cat > "$WORK/bare/config.yaml" <<YAML
$MODEL
plugins:
  dir: $WORK/bare/plugins
  router: default-router
  sanitizers: []
  cost_rules: []
YAML
cat > "$WORK/chain/config.yaml" <<YAML
$MODEL
${CHAIN/CHAIN_DIR/chain/plugins}
YAML
everything() { # name general-settings-extra router-settings-extra cache-params
  cat > "$WORK/$1/config.yaml" <<YAML
$MODEL
$3
general_settings:
  master_key: sk-master
$2
litellm_settings:
  cache: true
  cache_params: $4
  callbacks: [prometheus, alerts]
webhooks:
  alerts:
    url: http://127.0.0.1:$HOOK_PORT/hook
    secret: whsec-load
    events: [request_error, model_fallback, rate_limit_hit, budget_exceeded, deployment_cooldown, plugin_failed]
${CHAIN/CHAIN_DIR/$1/plugins}
YAML
}
everything all "" "" "{type: local, max_size_bytes: 16777216}"
GATEWAYS="bare chain all"

# The same on PostgreSQL and Redis, as replicas share them.
SHARED="sy_load_$$"
if psql -h 127.0.0.1 -U postgres -d test -qc "CREATE SCHEMA $SHARED" >/dev/null 2>&1; then
  on_exit "psql -h 127.0.0.1 -U postgres -d test -qc 'DROP SCHEMA $SHARED CASCADE' >/dev/null 2>&1"
  if redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
    on_exit "redis-cli -h 127.0.0.1 --scan --pattern '$SHARED*' | xargs -r redis-cli -h 127.0.0.1 del >/dev/null"
    mkdir -p "$WORK/shared"
    plugins_dir "$WORK/shared/plugins" default-router pii-redactor openai model-prices
    everything shared \
      "  database_url: \"postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3D$SHARED\"" \
      "  redis_url: redis://127.0.0.1:6379
  redis_key_prefix: $SHARED" \
      "{type: redis, redis_url: \"redis://127.0.0.1:6379\", namespace: $SHARED}"
    GATEWAYS="bare chain all shared"
  fi
fi

declare -A GW_BIN
if [ -n "${BASELINE:-}" ]; then
  [ -x "$BASELINE" ] || { echo "BASELINE=$BASELINE is not an executable" >&2; exit 1; }
  mkdir -p "$WORK/base"
  plugins_dir "$WORK/base/plugins" default-router pii-redactor openai model-prices
  cat > "$WORK/base/config.yaml" <<YAML
$MODEL
${CHAIN/CHAIN_DIR/base/plugins}
YAML
  GW_BIN[base]="$BASELINE"
  GATEWAYS="${GATEWAYS/chain/chain base}"
fi

declare -A GW_PORT GW_PID
for g in $GATEWAYS; do
  GW_PORT[$g]=$(free_port)
  GW_PID[$g]=$(start_gateway "$WORK/$g/config.yaml" "${GW_PORT[$g]}" "${GW_BIN[$g]:-}")
  keep_pid "${GW_PID[$g]}"
done
for g in $GATEWAYS; do wait_up "${GW_PORT[$g]}"; done
KEY_SPEC='{"key_alias":"load","max_budget":1000000,"budget_duration":"30d","rpm_limit":100000000}'
KEY=$(new_key "${GW_PORT[all]}" "$KEY_SPEC")

for s in false true; do
  chat_lua "$WORK/chat-$s.lua" "$s"
  chat_lua "$WORK/all-$s.lua" "$s" "$KEY" 1
  chat_lua "$WORK/hit-$s.lua" "$s" "$KEY" 0
done
if [ -n "${GW_PORT[shared]:-}" ]; then
  SHARED_KEY=$(new_key "${GW_PORT[shared]}" "$KEY_SPEC")
  for s in false true; do chat_lua "$WORK/shared-$s.lua" "$s" "$SHARED_KEY" 1; done
fi

declare -A URL PIDS_OF LUA_OF
URL[direct]="$MOCK_URL/chat/completions"; PIDS_OF[direct]="$MOCK_PID"
if [ "$HAVE_NGINX" = 1 ]; then
  URL[nginx]="http://127.0.0.1:$NGINX_PORT/v1/chat/completions"
  PIDS_OF[nginx]="$(cat "$WORK/nginx/nginx.pid") $(pgrep -P "$(cat "$WORK/nginx/nginx.pid")" | tr '\n' ' ')"
fi
URL[null]="http://127.0.0.1:$NULL_PORT/v1/chat/completions"; PIDS_OF[null]="$NULL_PID"
for g in $GATEWAYS; do
  URL[$g]="http://127.0.0.1:${GW_PORT[$g]}/v1/chat/completions"; PIDS_OF[$g]="${GW_PID[$g]}"
done
URL[hit]="${URL[all]}"; PIDS_OF[hit]="${GW_PID[all]}"
lua_for() { # target stream
  case "$1" in all|shared) echo "$WORK/$1-$2.lua" ;; hit) echo "$WORK/hit-$2.lua" ;; *) echo "$WORK/chat-$2.lua" ;; esac
}

# Warm every path (connections, plugin instances, the cache's one entry).
TARGETS="direct null bare chain all hit"
[ "$HAVE_NGINX" = 1 ] && TARGETS="direct nginx null bare chain all hit"
[ -n "${GW_PORT[shared]:-}" ] && TARGETS="$TARGETS shared"
[ -n "${GW_PORT[base]:-}" ] && TARGETS="${TARGETS/chain/chain base}"
for t in $TARGETS; do
  for s in false true; do
    wrk -t1 -c8 -d1s -s "$(lua_for "$t" "$s")" "${URL[$t]}" > /dev/null
  done
done
sleep 2
declare -A IDLE_KB PEAK_KB
for g in $GATEWAYS; do IDLE_KB[$g]=$(rss_kb "${GW_PID[$g]}"); done

if [ "$SOAK_MIN" -gt 0 ]; then
  pid="${GW_PID[all]}"
  echo "soak: the all gateway, concurrency 64, $SOAK_MIN minutes; RSS every 10 s"
  wrk -t2 -c64 -d"$((SOAK_MIN * 60))s" --latency -s "$WORK/all-false.lua" "${URL[all]}" > "$WORK/soak.txt" &
  WRK=$!
  : > "$WORK/rss"
  for i in $(seq $((SOAK_MIN * 6))); do
    sleep 10
    r=$(rss_kb "$pid"); echo "$((i * 10)) $r" >> "$WORK/rss"
    echo "  $((i * 10)) s: $((r / 1024)) MiB"
  done
  wait "$WRK" || true
  cat "$WORK/soak.txt" | grep -E "requests in|Requests/sec|Non-2xx|Socket errors" || true
  # The second minute's last sample against the last minute's highest.
  second=$(awk '$1 <= 120 {v=$2} END {print v}' "$WORK/rss")
  last=$(awk -v s=$((SOAK_MIN * 60 - 60)) '$1 > s && $2 > m {m=$2} END {print m}' "$WORK/rss")
  growth=$(awk -v a="$second" -v b="$last" 'BEGIN {printf "%.1f", (b - a) * 100 / a}')
  echo "idle $((IDLE_KB[all] / 1024)) MiB; at 2 min $((second / 1024)) MiB; last minute's peak $((last / 1024)) MiB; growth $growth %"
  awk -v g="$growth" 'BEGIN {exit !(g <= 5)}' || { echo "FAIL: RSS grew more than 5 %"; exit 1; }
  echo "ok: within 5 %"
  exit 0
fi

# The runs: each target, chat then stream, concurrency 1 then 64.
for t in $TARGETS; do
  sampler=""
  case "$t" in bare|chain|base|all|shared)
    pid="${GW_PID[$t]}"
    ( peak=0; while kill -0 "$pid" 2>/dev/null; do r=$(rss_kb "$pid"); [ "$r" -gt "$peak" ] && peak=$r && echo "$peak" > "$WORK/peak-$t"; sleep 0.2; done ) &
    sampler=$!
  esac
  for s in false true; do
    for c in 1 64; do
      # shellcheck disable=SC2086
      wrk_run "$t-$s-$c" "${URL[$t]}" "$c" "$(lua_for "$t" "$s")" "$SECS" ${PIDS_OF[$t]}
    done
  done
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
  case "$t" in bare|chain|base|all|shared) PEAK_KB[$t]=$(cat "$WORK/peak-$t" 2>/dev/null || echo 0) ;; esac
done

problems=""
for f in "$WORK"/*-*-*.txt; do
  e=$(errors "$f"); [ -n "$e" ] && problems="$problems$(basename "$f" .txt): $e\n"
  r=$(requests "$f"); [ "${r:-0}" -gt 0 ] || problems="$problems$(basename "$f" .txt): no requests\n"
done

label() {
  case "$1" in
    direct) echo "direct to the mock" ;; nginx) echo "nginx reverse proxy" ;; null) echo "null proxy" ;;
    bare) echo "gateway, router + adapter only" ;; chain) echo "gateway, plugin chain" ;;
    all) echo "gateway, everything on" ;; hit) echo "gateway, everything on, cache hit" ;;
    shared) echo "gateway, everything on, PostgreSQL + Redis" ;;
    base) echo "gateway, plugin chain, baseline build" ;;
  esac
}
table() { # stream
  local s="$1"
  echo "| target | c=1 p50 | c=1 p99 | c=1 CPU/req | c=64 p50 | c=64 p99 | c=64 req/s | c=64 CPU/req | c=64 CPU/req ÷ null | c=64 CPU/req ÷ nginx |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  local null_cpu nginx_cpu
  null_cpu=$(cpu_per_req "null-$s-64")
  nginx_cpu=$(cpu_per_req "nginx-$s-64")
  for t in $TARGETS; do
    local cpu; cpu=$(cpu_per_req "$t-$s-64")
    local vs_null="" vs_nginx=""
    case "$t" in direct) ;; *)
      vs_null=$(awk -v a="$cpu" -v b="$null_cpu" 'BEGIN {if (b > 0) printf "%.2f×", a / b}')
      [ "$HAVE_NGINX" = 1 ] && vs_nginx=$(awk -v a="$cpu" -v b="$nginx_cpu" 'BEGIN {if (b > 0) printf "%.2f×", a / b}')
    esac
    echo "| $(label "$t") | $(pct 50% "$WORK/$t-$s-1.txt") µs | $(pct 99% "$WORK/$t-$s-1.txt") µs | $(cpu_per_req "$t-$s-1") µs | $(pct 50% "$WORK/$t-$s-64.txt") µs | $(pct 99% "$WORK/$t-$s-64.txt") µs | $(rps "$WORK/$t-$s-64.txt") | $cpu µs | $vs_null | $vs_nginx |"
  done
}
REPORT="$WORK/report.md"
{
  echo "Measured $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD) on $(machine); wrk, ${SECS} s a run, one thread per 32 connections. CPU/req is the proxy's own CPU time (user + system, every process of it) over the requests wrk made; for \"direct\" it is the mock's."
  [ -n "${BASELINE:-}" ] && echo "The baseline build is ${BASELINE_NAME:-$BASELINE}."
  echo
  echo "Chat (a 757-byte completion):"
  echo
  table false
  echo
  echo "Stream (the same answer as 7 SSE chunks):"
  echo
  table true
  echo
  echo "| gateway | idle RSS | peak RSS under load |"
  echo "| --- | ---: | ---: |"
  for g in $GATEWAYS; do
    echo "| $(label "$g") | $((IDLE_KB[$g] / 1024)) MiB | $((PEAK_KB[$g] / 1024)) MiB |"
  done
  if [ -n "$problems" ]; then echo; printf "Errors during the run:\n\n%b" "$problems"; fi
} > "$REPORT"
cat "$REPORT"

if [ "$WRITE" = 1 ]; then
  python3 - "$REPORT" docs/performance.md <<'PY'
import sys
report, doc = open(sys.argv[1]).read().strip(), sys.argv[2]
text = open(doc).read()
begin, end = "<!-- run.sh:begin -->", "<!-- run.sh:end -->"
block = f"{begin}\n{report}\n{end}"
if begin in text and end in text:
    text = text[: text.index(begin)] + block + text[text.index(end) + len(end):]
else:
    text = text.rstrip() + "\n\n## The latest run of tests/load/run.sh\n\n" + block + "\n"
open(doc, "w").write(text)
PY
  echo "written into docs/performance.md"
fi
