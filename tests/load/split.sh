#!/usr/bin/env bash
# Load benchmark (not a test): what each part of the "everything on"
# gateway of run.sh costs on top of the plugin chain, and what a cache hit
# costs beside the null proxy, in one run. Each row is the chain plus one
# part, or a cache hit, or the null proxy:
#
#   chain      default-router, pii-redactor, openai, model-prices, spend
#              records in SQLite (the default)
#   no-spend   the chain with general_settings.disable_spend_logs: true
#   keys       a master key, and requests with a virtual key that has a
#              budget and an rpm limit (never refusing)
#   keys-rpm   the same with a key that has only the rpm limit: no budget,
#              so no reservation priced by a cost-rule call
#   cache      the memory cache, every request a miss (unique bodies)
#   observe    Prometheus (callbacks: [prometheus]) and a webhook for alerts
#   all        all of them, as run.sh's "everything on"
#   hit        the cache gateway answering from its cache (the same body
#              every request)
#   hit-no-spend  the same with disable_spend_logs: true
#   null       the null proxy, for what a hit should undercut (issue 13)
#
# Chat at concurrency 64; CPU per request (user + system over wrk's
# requests). Rounds alternate the targets, so a slow moment of the machine
# does not fall on one of them.
#
# BASELINE=path/to/another/switchyard adds each gateway row again on that
# build (`name~base`), so a change and the code before it are measured in
# one run. ROWS="keys keys-rpm hit" measures only those gateways (the chain
# and the null proxy always run). A row's figure is the median of its
# rounds: on a machine shared with noisy neighbours, a few rounds of a
# few seconds each beat one long one.
#
#   make build && bash tests/load/split.sh [seconds-per-run] [rounds]
set -euo pipefail
# lib.sh moves to the repository's root: a relative BASELINE is from here.
[ -n "${BASELINE:-}" ] && BASELINE="$(realpath "$BASELINE")"
source "$(dirname "$0")/lib.sh"

SECS="${1:-5}"
ROUNDS="${2:-2}"
need wrk wrk
build_tools
start_mock
start_null
start_hook_sink

config() { # name general-settings litellm-settings extra
  mkdir -p "$WORK/$1"
  plugins_dir "$WORK/$1/plugins" default-router pii-redactor openai model-prices
  cat > "$WORK/$1/config.yaml" <<YAML
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_base: "$MOCK_URL", api_key: sk-load}
    model_info: {input_cost_per_token: 0.0000025, output_cost_per_token: 0.00001}
router_settings:
  num_retries: 0
general_settings:
  $2
litellm_settings:
  $3
$4
plugins:
  dir: $WORK/$1/plugins
  router: default-router
  sanitizers: [pii-redactor]
  cost_rules: [model-prices]
YAML
}
HOOK="webhooks:
  alerts:
    url: http://127.0.0.1:$HOOK_PORT/hook
    secret: whsec-load
    events: [request_error, model_fallback, rate_limit_hit, budget_exceeded, deployment_cooldown, plugin_failed]"
config chain "{}" "{}" ""
config no-spend "disable_spend_logs: true" "{}" ""
config keys "master_key: sk-master" "{}" ""
config keys-rpm "master_key: sk-master" "{}" ""
config cache "{}" "{cache: true, cache_params: {type: local}}" ""
config observe "{}" "{callbacks: [prometheus, alerts]}" "$HOOK"
config all "master_key: sk-master" "{cache: true, cache_params: {type: local}, callbacks: [prometheus, alerts]}" "$HOOK"
config hit "{}" "{cache: true, cache_params: {type: local}}" ""
config hit-no-spend "disable_spend_logs: true" "{cache: true, cache_params: {type: local}}" ""
ALL="chain no-spend keys keys-rpm cache observe all hit hit-no-spend"
GATEWAYS=chain
for t in ${ROWS:-$ALL}; do
  case " $ALL " in *" $t "*) ;; *) echo "no row $t (rows: $ALL)" >&2; exit 1 ;; esac
  [ "$t" = chain ] || GATEWAYS="$GATEWAYS $t"
done
if [ -n "${BASELINE:-}" ]; then
  [ -x "$BASELINE" ] || { echo "BASELINE $BASELINE is not an executable" >&2; exit 1; }
  for t in $GATEWAYS; do
    # A folder of its own: the gateway keeps its SQLite file beside the config.
    mkdir -p "$WORK/$t~base"
    cp "$WORK/$t/config.yaml" "$WORK/$t~base/"
    GATEWAYS="$GATEWAYS $t~base"
  done
fi
TARGETS="$GATEWAYS null"

declare -A PORT PID
for t in $GATEWAYS; do
  PORT[$t]=$(free_port)
  bin=target/release/switchyard
  case "$t" in *~base) bin="$BASELINE" ;; esac
  PID[$t]=$(start_gateway "$WORK/$t/config.yaml" "${PORT[$t]}" "$bin")
  keep_pid "${PID[$t]}"
done
for t in $GATEWAYS; do wait_up "${PORT[$t]}"; done
PORT[null]=$NULL_PORT
PID[null]=$NULL_PID
SPEC='{"key_alias":"load","max_budget":1000000,"budget_duration":"30d","rpm_limit":100000000}'
for t in $TARGETS; do
  case "${t%"~base"}" in
    keys|all) chat_lua "$WORK/$t.lua" false "$(new_key "${PORT[$t]}" "$SPEC")" 1 ;;
    keys-rpm) chat_lua "$WORK/$t.lua" false "$(new_key "${PORT[$t]}" '{"key_alias":"load","rpm_limit":100000000}')" 1 ;;
    # The same body every request: after the warm-up, every one a hit.
    hit|hit-no-spend) chat_lua "$WORK/$t.lua" false sk-load 0 ;;
    *) chat_lua "$WORK/$t.lua" false sk-load 1 ;;
  esac
done
for t in $TARGETS; do
  wrk -t1 -c8 -d1s -s "$WORK/$t.lua" "http://127.0.0.1:${PORT[$t]}/v1/chat/completions" > /dev/null
done

for r in $(seq "$ROUNDS"); do
  for t in $TARGETS; do
    wrk_run "$t-$r" "http://127.0.0.1:${PORT[$t]}/v1/chat/completions" 64 "$WORK/$t.lua" "$SECS" "${PID[$t]}"
  done
done

echo "Measured $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD) on $(machine); chat, concurrency 64, $SECS s a run, $ROUNDS rounds."
echo
echo "| gateway | CPU/req, each round | req/s, each round | CPU/req over the chain (medians) | CPU/req ÷ null |"
echo "| --- | ---: | ---: | ---: | ---: |"
median() { # target
  local r
  for r in $(seq "$ROUNDS"); do cpu_per_req "$1-$r"; echo; done \
    | sort -n | awk 'NF {v[n++] = $1} END {print (n % 2) ? v[int(n / 2)] : int((v[n / 2 - 1] + v[n / 2]) / 2)}'
}
CHAIN=$(median chain)
NULL=$(median null)
for t in $TARGETS; do
  cpus="" rpss=""
  for r in $(seq "$ROUNDS"); do
    cpus="$cpus $(cpu_per_req "$t-$r") µs"; rpss="$rpss $(rps "$WORK/$t-$r.txt")"
    e=$(errors "$WORK/$t-$r.txt"); [ -n "$e" ] && echo "$t round $r: $e" >&2
  done
  m=$(median "$t")
  # Hits and the null proxy are no "chain plus one part"; a baseline row
  # is over the baseline's chain.
  case "$t" in
    hit*|null) over="" ;;
    *~base) over="$(( m - $(median chain~base) )) µs" ;;
    *) over="$(( m - CHAIN )) µs" ;;
  esac
  ratio=$(awk -v a="$m" -v b="$NULL" 'BEGIN {if (b > 0) printf "%.2f×", a / b}')
  echo "| $t | $cpus | $rpss | $over | $ratio |"
done
