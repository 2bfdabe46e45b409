"""The response cache through the official `openai` package.

Usage: cache_client.py GATEWAY_URL KEY EXPECT_TEXT

GATEWAY_URL is the gateway's root (the client uses GATEWAY_URL/v1). The
group `gpt` answers EXPECT_TEXT. Reads the cache headers through
`with_raw_response`, passes the per-request controls through `extra_body`
(the client has no parameter of its own for them), and waits for the
cache's writes on `/health/readiness`. Prints one line per check and exits
non-zero on the first failure.
"""

import json
import sys
import time
import urllib.request

import openai
from openai import OpenAI


def check(name, cond, detail=""):
    if not cond:
        raise AssertionError(f"{name}: {detail}")
    print(f"ok {name}")


def wait_writes(root, n):
    """Until the cache has written n entries (it may write after answering)."""
    deadline = time.monotonic() + 10
    while True:
        with urllib.request.urlopen(f"{root}/health/readiness", timeout=5) as r:
            writes = json.load(r)["cache"]["writes"]
        if writes >= n:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{n} cache writes: {writes} after 10 s")
        time.sleep(0.02)


def main():
    root, key, text = sys.argv[1], sys.argv[2], sys.argv[3]
    client = OpenAI(base_url=f"{root}/v1", api_key=key, max_retries=0, timeout=20.0)
    messages = [{"role": "user", "content": "Is this cached?"}]
    chat = client.chat.completions.with_raw_response

    raw = chat.create(model="gpt", messages=messages)
    first = raw.parse()
    check("first: miss", raw.headers.get("x-switchyard-cache") == "miss", raw.headers)
    key_header = raw.headers.get("x-switchyard-cache-key")
    check("first: key", key_header and key_header.startswith("switchyard:master:"), key_header)
    check("first: content", first.choices[0].message.content == text, first)
    wait_writes(root, 1)

    raw = chat.create(model="gpt", messages=messages)
    hit = raw.parse()
    check("second: hit", raw.headers.get("x-switchyard-cache") == "hit", raw.headers)
    check("second: same key", raw.headers.get("x-switchyard-cache-key") == key_header)
    check("second: no cost", float(raw.headers.get("x-switchyard-response-cost")) == 0.0,
          raw.headers)
    check("second: same content", hit.choices[0].message.content == text, hit)
    check("second: new id", hit.id != first.id and hit.id.startswith("chatcmpl-"), hit.id)
    check("second: usage", hit.usage == first.usage, (hit.usage, first.usage))

    # A control through extra_body: the provider answers.
    raw = chat.create(model="gpt", messages=messages, extra_body={"cache": {"no-cache": True}})
    fresh = raw.parse()
    check("no-cache: bypass", raw.headers.get("x-switchyard-cache") == "bypass", raw.headers)
    check("no-cache: content", fresh.choices[0].message.content == text, fresh)

    # A streamed hit, parsed by the client, with the usage chunk.
    raw = chat.create(model="gpt", messages=messages, stream=True,
                      stream_options={"include_usage": True})
    check("stream: hit", raw.headers.get("x-switchyard-cache") == "hit", raw.headers)
    chunks = list(raw.parse())
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    check("stream: content", streamed == text, streamed)
    finishes = [c.choices[0].finish_reason for c in chunks
                if c.choices and c.choices[0].finish_reason]
    check("stream: finish_reason", finishes == ["stop"], finishes)
    usage = [c.usage for c in chunks if c.usage is not None]
    check("stream: one usage chunk, last", len(usage) == 1 and chunks[-1].usage is not None
          and usage[0].completion_tokens == first.usage.completion_tokens, usage)

    # A bad control is the client's BadRequestError.
    try:
        client.chat.completions.create(model="gpt", messages=messages,
                                       extra_body={"cache": {"ttl": "soon"}})
        check("bad control", False, "no exception")
    except openai.BadRequestError as e:
        check("bad control", e.status_code == 400 and e.body.get("param") == "cache.ttl",
              repr(e))

    print("all ok")


if __name__ == "__main__":
    main()
