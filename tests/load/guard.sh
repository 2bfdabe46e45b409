#!/usr/bin/env bash
# Guardrails benchmark (not a test): time to first token of a streamed
# answer with and without a sanitiser watching answers, in one run. A paced
# upstream (python, below) streams 40 chunks of 8 characters ("word### "),
# one every 5 ms. Four gateways on it:
#
# - none: no sanitiser;
# - request: pii-redactor on the request stage only (today's default);
# - window-200: pii-redactor on both stages, window_chars 200, overlap 50;
# - window-50: the same with window_chars 50, overlap 20.
#
# Each gets 40 sequential streamed requests (after 5 warm-up ones), in two
# rounds in alternating order; the table gives TTFT (first non-empty
# content delta) p50 and p90, and the whole stream's p50.
#
#   make build && bash tests/load/guard.sh [requests-per-round]
#
# Needs python3. Sends traffic only to 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${1:-40}"
[ -x target/release/switchyard ] || { echo "run make build first"; exit 1; }

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  kill "${PIDS[@]}" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

UP_PORT=$(free_port)
cat > "$WORK/upstream.py" <<'PY'
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PIECES = [f"word{i:03d} " for i in range(40)]

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def log_message(self, *a):
        pass
    def do_POST(self):
        n = int(self.headers.get("content-length", 0))
        self.rfile.read(n)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        def chunk(delta, finish=None):
            c = {"id": "chatcmpl-load", "object": "chat.completion.chunk", "created": 1,
                 "model": "gpt-4o", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            self.wfile.write(f"data: {json.dumps(c)}\n\n".encode())
            self.wfile.flush()
        chunk({"role": "assistant", "content": ""})
        for p in PIECES:
            time.sleep(0.005)
            chunk({"content": p})
        chunk({}, "stop")
        u = {"id": "chatcmpl-load", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
             "choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 80, "total_tokens": 100}}
        self.wfile.write(f"data: {json.dumps(u)}\n\ndata: [DONE]\n\n".encode())

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$WORK/upstream.py" "$UP_PORT" &
PIDS+=($!)

declare -A PORT
start() { # name plugins-lines
  local name=$1 lines=$2
  mkdir -p "$WORK/$name"
  cat > "$WORK/$name/config.yaml" <<YAML
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_base: "http://127.0.0.1:$UP_PORT", api_key: sk-load}
general_settings:
  master_key: sk-master
plugins:
$lines
YAML
  PORT[$name]=$(free_port)
  SWITCHYARD_LOG=warn target/release/switchyard serve --config "$WORK/$name/config.yaml" \
    --host 127.0.0.1 --port "${PORT[$name]}" 2> "$WORK/$name/log" &
  PIDS+=($!)
  for _ in $(seq 200); do curl -sf "127.0.0.1:${PORT[$name]}/health/liveliness" >/dev/null && return 0; sleep 0.05; done
  echo "$name did not start"; cat "$WORK/$name/log"; exit 1
}
start none "  sanitizers: []"
start request "  sanitizers: [pii-redactor]"
start window-200 "  sanitizers: [pii-redactor]
  settings:
    pii-redactor: {stages: [request, response], window_chars: 200, overlap_chars: 50}"
start window-50 "  sanitizers: [pii-redactor]
  settings:
    pii-redactor: {stages: [request, response], window_chars: 50, overlap_chars: 20}"
NAMES=(none request window-200 window-50)

cat > "$WORK/ttft.py" <<'PY'
import http.client, json, sys, time
port, n, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
body = json.dumps({"model": "gpt-4o", "stream": True,
                   "messages": [{"role": "user", "content": "Tell me a story about my order 48213."}]})
rows = []
for i in range(n + 5):
    c = http.client.HTTPConnection("127.0.0.1", port)
    t0 = time.perf_counter()
    c.request("POST", "/v1/chat/completions", body,
              {"Authorization": "Bearer sk-master", "Content-Type": "application/json"})
    r = c.getresponse()
    first = None
    text = ""
    while True:
        line = r.readline()
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data: ") or line == b"data: [DONE]":
            continue
        d = json.loads(line[6:])
        for ch in d.get("choices", []):
            piece = (ch.get("delta") or {}).get("content") or ""
            if piece and first is None:
                first = time.perf_counter() - t0
            text += piece
    total = time.perf_counter() - t0
    c.close()
    assert text == "".join(f"word{i:03d} " for i in range(40)), text
    if i >= 5:
        rows.append((first, total))
json.dump(rows, open(out, "w"))
PY

for n in "${NAMES[@]}"; do python3 "$WORK/ttft.py" "${PORT[$n]}" "$N" "$WORK/$n-1.json"; done
for ((i=${#NAMES[@]}-1; i>=0; i--)); do n=${NAMES[$i]}; python3 "$WORK/ttft.py" "${PORT[$n]}" "$N" "$WORK/$n-2.json"; done

echo "| gateway | TTFT p50 (rounds 1, 2) | TTFT p90 (rounds 1, 2) | whole stream p50 (rounds 1, 2) |"
echo "| --- | ---: | ---: | ---: |"
for n in "${NAMES[@]}"; do
  python3 - "$n" "$WORK/$n-1.json" "$WORK/$n-2.json" <<'PY'
import json, sys
name = sys.argv[1]
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]
r = [json.load(open(f)) for f in sys.argv[2:]]
f = lambda rows, k, p: f"{pct([x[k] for x in rows], p) * 1000:.1f} ms"
print(f"| {name} | {f(r[0],0,.5)}, {f(r[1],0,.5)} | {f(r[0],0,.9)}, {f(r[1],0,.9)} | {f(r[0],1,.5)}, {f(r[1],1,.5)} |")
PY
done
