# Shared by the load scripts in tests/load (sourced, not run): a work
# folder cleaned on exit, free ports, the fast mock upstream, gateways
# started and awaited, and wrk's output read back (latency percentiles,
# requests per second, errors) with a process's CPU time and memory.
#
# A script sets nothing before sourcing it; after it, $WORK is a fresh
# folder and every pid passed to `keep_pid` is killed on exit. Scripts add
# their own cleanup with `on_exit 'command'`.

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

WORK="$(mktemp -d)"
PIDS=()
EXIT_HOOKS=()
_cleanup() {
  local hook
  for hook in "${EXIT_HOOKS[@]}"; do eval "$hook" || true; done
  [ "${#PIDS[@]}" -gt 0 ] && kill "${PIDS[@]}" 2>/dev/null
  rm -rf "$WORK"
  return 0
}
trap _cleanup EXIT

# Runs a command when the script exits, before the processes are killed.
on_exit() { EXIT_HOOKS+=("$1"); }
# Kills a process when the script exits.
keep_pid() { PIDS+=("$1"); }

need() { # command package
  command -v "$1" >/dev/null || { echo "$1 is not installed (apt-get install $2)" >&2; exit 1; }
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Builds the mock upstream and the null proxy (quiet when up to date) and
# checks the gateway binary is there. LOAD_NO_BUILD=1 uses the binaries
# target/release already holds.
build_tools() {
  if [ -z "${LOAD_NO_BUILD:-}" ]; then
    cargo build --release -q -p switchyard-e2e --bin mock-upstream
    cargo build --release -q -p switchyard --example null_proxy
  fi
  [ -x target/release/mock-upstream ] && [ -x target/release/examples/null_proxy ] \
    || { echo "the mock upstream or the null proxy is not built" >&2; exit 1; }
  [ -x target/release/switchyard ] || { echo "run make build first" >&2; exit 1; }
}

# Starts the fast OpenAI mock (tests/e2e/src/bin/mock-upstream.rs); sets
# MOCK_URL and MOCK_PID. It serves until its stdin closes: a pipe held open
# on fd 3 until the script exits.
start_mock() {
  mkfifo "$WORK/mock-in"
  target/release/mock-upstream --seconds "${1:-3600}" < "$WORK/mock-in" > "$WORK/mock-url" &
  MOCK_PID=$!
  keep_pid "$MOCK_PID"
  exec 3> "$WORK/mock-in"
  for _ in $(seq 100); do [ -s "$WORK/mock-url" ] && break; sleep 0.05; done
  MOCK_URL="$(cat "$WORK/mock-url")"
}

# Starts the null proxy on a free port; sets NULL_PORT and NULL_PID.
start_null() {
  NULL_PORT=$(free_port)
  target/release/examples/null_proxy --port "$NULL_PORT" --upstream "$MOCK_URL" &
  NULL_PID=$!
  keep_pid "$NULL_PID"
  wait_port "$NULL_PORT"
}

# A webhook receiver answering 200 to every POST; sets HOOK_PORT.
start_hook_sink() {
  HOOK_PORT=$(free_port)
  python3 - "$HOOK_PORT" <<'PY' &
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
  keep_pid $!
}

# Waits until something accepts connections on a port (up to 10 s).
wait_port() {
  for _ in $(seq 200); do
    (exec 9<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on port $1" >&2
  return 1
}

# Waits until a gateway on a port answers its liveness probe (up to 30 s).
wait_up() {
  for _ in $(seq 600); do curl -sf "127.0.0.1:$1/health/liveliness" >/dev/null && return 0; sleep 0.05; done
  echo "the gateway on port $1 did not come up" >&2
  return 1
}

# Starts a gateway on a config; prints its pid (its log goes to the
# config's folder as gateway.log). Usage: pid=$(start_gateway config port)
start_gateway() { # config port [binary]
  SWITCHYARD_LOG="${SWITCHYARD_LOG:-warn}" "${3:-target/release/switchyard}" serve \
    --config "$1" --host 127.0.0.1 --port "$2" > "$(dirname "$1")/gateway.log" 2>&1 &
  echo $!
}

# Copies built plugins into a folder: plugins_dir folder name...
plugins_dir() {
  local dir="$1"; shift
  mkdir -p "$dir"
  for p in "$@"; do cp "target/plugins/$p.wasm" "$dir/"; done
}

# A virtual key from a gateway with master key sk-master: new_key port json
new_key() {
  curl -sf "127.0.0.1:$1/key/generate" -H 'Authorization: Bearer sk-master' -d "$2" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])'
}

# A wrk Lua script that POSTs a chat request: chat_lua file [stream] [key]
# [unique]. With unique=1 every request's last message differs (a counter),
# so a cache never answers it.
chat_lua() {
  local file="$1" stream="${2:-false}" key="${3:-sk-load}" unique="${4:-0}"
  cat > "$file" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $key"
local head = '{"model":"gpt-4o","stream":$stream,"messages":[{"role":"system","content":"You are a helpful support assistant."},{"role":"user","content":"My order arrived late and the box was damaged. How do I ask for a refund, and how long does it take?'
local tail = '"}],"max_tokens":200}'
wrk.body = head .. tail
local n = 0
local unique = $unique
local tag = ""
-- Each thread (and each wrk run) its own tag from /dev/urandom, so no two
-- requests of any run share a body.
init = function(args)
  local f = io.open("/dev/urandom", "rb")
  local b = f:read(6)
  f:close()
  for i = 1, #b do tag = tag .. string.format("%02x", b:byte(i)) end
end
request = function()
  if unique == 1 then
    n = n + 1
    return wrk.format(nil, nil, nil, head .. " (" .. tag .. "-" .. tostring(n) .. ")" .. tail)
  end
  return wrk.format()
end
LUA
}

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# CPU time (user + system) the given processes have used, in clock ticks.
cpu_ticks() {
  local t=0 p
  for p in "$@"; do t=$(( t + $(awk '{print $14 + $15}' "/proc/$p/stat") )); done
  echo "$t"
}
TICK_HZ=$(getconf CLK_TCK)

# wrk prints "50%  1.23ms"; prints microseconds.
pct() { awk -v p="$1" '$1==p {v=$2; if (v ~ /us$/) {sub(/us/,"",v); print v+0} else if (v ~ /ms$/) {sub(/ms/,"",v); print v*1000} else if (v ~ /s$/) {sub(/s/,"",v); print v*1000000}}' "$2"; }
rps() { awk '/Requests\/sec/ {printf "%.0f", $2}' "$1"; }
requests() { awk '/requests in/ {print $1}' "$1"; }
errors() { awk '/Non-2xx|Socket errors/ {print}' "$1"; }

# One wrk run: wrk_run name url conns lua seconds [pids whose CPU counts...]
# Writes $WORK/name.txt (wrk's output) and $WORK/name.cpu (ticks). One wrk
# thread per 32 connections, at least one.
wrk_run() {
  local name="$1" url="$2" conns="$3" lua="$4" secs="$5"; shift 5
  local threads=$(( (conns + 31) / 32 )) before=0
  [ "$#" -gt 0 ] && before=$(cpu_ticks "$@")
  wrk -t"$threads" -c"$conns" -d"${secs}s" --latency -s "$lua" "$url" > "$WORK/$name.txt"
  if [ "$#" -gt 0 ]; then echo $(( $(cpu_ticks "$@") - before )) > "$WORK/$name.cpu"; fi
  return 0
}

# CPU µs per request of a run: its processes' CPU time over wrk's requests.
cpu_per_req() {
  [ -f "$WORK/$1.cpu" ] || { echo "—"; return; }
  awk -v t="$(cat "$WORK/$1.cpu")" -v hz="$TICK_HZ" '/requests in/ {printf "%.0f", t * 1000000 / hz / $1}' "$WORK/$1.txt"
}

# The machine a figure was measured on, for the report.
machine() {
  local cpu
  cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
  echo "$(nproc) cores ($cpu), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
}
