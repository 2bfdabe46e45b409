"""Drives a running Switchyard gateway with the official `openai` package.

Usage: openai_client.py BASE_URL KEY EXPECT_JSON

EXPECT_JSON names what the gateway's providers answer:
  {"text": ..., "prompt_tokens": N, "completion_tokens": N,
   "tool_arguments": {...}, "embeddings": [[...], [...]]}

Model groups used: `gpt` (chat and streams), `claude` (answers with a tool
call), `embed` (embeddings). Prints one line per check and exits non-zero on
the first failure.
"""

import json
import sys

import openai
from openai import OpenAI


def check(name, cond, detail=""):
    if not cond:
        raise AssertionError(f"{name}: {detail}")
    print(f"ok {name}")


def main():
    base_url, key, expect = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    client = OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=20.0)
    messages = [{"role": "user", "content": "Hello?"}]
    weather = [{
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"location": {"type": "string"}},
                "required": ["location"],
            },
        },
    }]

    # Chat.
    r = client.chat.completions.create(model="gpt", messages=messages)
    check("chat content", r.choices[0].message.content == expect["text"], r)
    check("chat finish_reason", r.choices[0].finish_reason == "stop", r)
    check("chat usage", r.usage.prompt_tokens == expect["prompt_tokens"]
          and r.usage.completion_tokens == expect["completion_tokens"], r.usage)

    # Streaming, with the usage chunk.
    stream = client.chat.completions.create(
        model="gpt", messages=messages, stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    check("stream content", text == expect["text"], text)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    check("stream finish_reason", finishes == ["stop"], finishes)
    usage = [c.usage for c in chunks if c.usage is not None]
    check("stream usage chunk", len(usage) == 1 and chunks[-1].usage is not None
          and usage[0].prompt_tokens == expect["prompt_tokens"], usage)

    # Tools, through the anthropic adapter: non-streaming and streaming.
    r = client.chat.completions.create(
        model="claude", messages=messages, tools=weather, max_tokens=50)
    calls = r.choices[0].message.tool_calls
    check("tool call", calls is not None and len(calls) == 1
          and calls[0].function.name == "get_weather"
          and json.loads(calls[0].function.arguments) == expect["tool_arguments"], r)
    check("tool finish_reason", r.choices[0].finish_reason == "tool_calls", r)
    stream = client.chat.completions.create(
        model="claude", messages=messages, tools=weather, max_tokens=50, stream=True)
    name, args = "", ""
    for c in stream:
        for tc in (c.choices[0].delta.tool_calls or []) if c.choices else []:
            name += tc.function.name or "" if tc.function else ""
            args += tc.function.arguments or "" if tc.function else ""
    check("streamed tool call", name == "get_weather"
          and json.loads(args) == expect["tool_arguments"], (name, args))

    # Embeddings (the client asks for base64 unless told otherwise; ask for
    # both).
    for fmt in ("float", None):
        kwargs = {"encoding_format": fmt} if fmt else {}
        r = client.embeddings.create(model="embed", input=["first", "second"], **kwargs)
        got = [list(d.embedding) for d in r.data]
        check(f"embeddings ({fmt or 'default'})", got == expect["embeddings"], got)

    # Models.
    ids = sorted(m.id for m in client.models.list())
    check("models.list", ids == ["claude", "embed", "gpt"], ids)
    check("models.retrieve", client.models.retrieve("gpt").id == "gpt")

    # Errors as the client's exception types.
    try:
        client.chat.completions.create(model="nope", messages=messages)
        check("NotFoundError", False, "no exception")
    except openai.NotFoundError as e:
        check("NotFoundError", e.status_code == 404 and "nope" in str(e), e)
    bad = OpenAI(base_url=base_url, api_key="sk-wrong", max_retries=0, timeout=20.0)
    try:
        bad.chat.completions.create(model="gpt", messages=messages)
        check("AuthenticationError", False, "no exception")
    except openai.AuthenticationError as e:
        check("AuthenticationError", e.status_code == 401, e)
    try:
        client.chat.completions.create(model="gpt", messages="not a list")
        check("BadRequestError", False, "no exception")
    except openai.BadRequestError as e:
        check("BadRequestError", e.status_code == 400 and "messages" in str(e), e)

    print("all ok")


if __name__ == "__main__":
    main()
