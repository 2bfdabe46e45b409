"""Asks each named model group one question with the official `openai`
package, whole and streamed, and prints one JSON line per group with the
answers: {"group", "text", "streamed"}.

Usage: each_group.py BASE_URL KEY GROUP...
"""

import json
import sys

from openai import OpenAI


def main():
    base_url, key, groups = sys.argv[1], sys.argv[2], sys.argv[3:]
    client = OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=20.0)
    messages = [{"role": "user", "content": "Hello?"}]
    for group in groups:
        r = client.chat.completions.create(model=group, messages=messages)
        streamed = "".join(
            c.choices[0].delta.content or ""
            for c in client.chat.completions.create(model=group, messages=messages, stream=True)
            if c.choices
        )
        print(json.dumps({"group": group, "text": r.choices[0].message.content, "streamed": streamed}))


if __name__ == "__main__":
    main()
