# switchyard-world: sanitizer-plugin
"""A Switchyard sanitiser in Python: the starting point for your own.

componentize-py builds this module into a WebAssembly component for the
`sanitizer-plugin` world of Switchyard's `wit/` (see build.sh). It looks here
for one class per export, by name:

- `WitWorld`  - the world's own functions: `describe` and `init`;
- `Sanitizer` - the `sanitizer` interface: `sanitize`.

WIT types arrive as the generated dataclasses (build.sh writes the bindings
to target/bindings/wit_world/ beside this file: read them there). A WIT variant is one class per case, named `<Variant>_<Case>`, for
example `Verdict_Deny("reason")` or `types.Role_User()`; an enum is a Python
`Enum`; `option<T>` is `T` or `None`. A function returning
`result<T, plugin-error>` returns `T` on success and signals failure with
`raise Err(types.PluginError_InvalidConfig("..."))` (or `_InvalidInput`,
`_Internal`, `_Other`). Any other exception traps: the gateway fails the call;
`@logged` (switchyard_log.py, vendored beside this file) first writes its
message and traceback to the gateway's log.

The plugin runs with no network, no files and no clock. Module-level code
runs once, at build time, and its state is part of the component.
"""

import json
from typing import Optional

from componentize_py_types import Err
from switchyard_log import logged
from wit_world import WitWorld as WorldExports
from wit_world.exports import Sanitizer as SanitizerExports
from wit_world.exports.sanitizer import (
    SanitizeInput,
    Stage_Request,
    Verdict,
    Verdict_Allow,
    Verdict_Deny,
)
from wit_world.imports import log, types

NAME = "my-sanitizer"  # lower-case letters, digits and "-"; the gateway's config names it

# The config this plugin accepts, as a JSON Schema. The gateway checks the
# plugin's config section against it before calling `init`.
CONFIG_SCHEMA = {
    "type": "object",
    "properties": {
        "deny_words": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Words that deny a prompt (case-insensitive)",
        },
    },
    "additionalProperties": False,
}

# The config `init` received; one instance serves many calls after one init.
config: dict = {}


def check_text(text: str) -> Optional[str]:
    """Your rule: why `text` must not pass, or None to let it pass. Plain
    Python with no WIT types, so it can be unit-tested with python3 directly
    (better still, keep it in a module of its own)."""
    lower = text.lower()
    for word in config.get("deny_words", []):
        if word.lower() in lower:
            return f'contains "{word.lower()}"'
    return None


class WitWorld(WorldExports):
    @logged
    def describe(self) -> types.PluginInfo:
        # Called before `init`: must not depend on config.
        return types.PluginInfo(
            name=NAME,
            version="0.1.0",
            kind=types.PluginKind.SANITIZER,
            provider_prefixes=[],  # only provider adapters list prefixes
            config_schema=json.dumps(CONFIG_SCHEMA),  # or None: any config
            description="Denies prompts that contain a configured word (template).",
        )

    @logged
    def init(self, config_json: str) -> None:
        # The plugin's section of the gateway's YAML, as JSON ("{}" if none).
        global config
        parsed = json.loads(config_json)
        if not isinstance(parsed, dict):
            raise Err(types.PluginError_InvalidConfig(f"{NAME}: config must be an object"))
        for key in parsed:
            if key not in CONFIG_SCHEMA["properties"]:
                raise Err(types.PluginError_InvalidConfig(f'{NAME}: config field "{key}" is not known'))
        config = parsed


class Sanitizer(SanitizerExports):
    @logged
    def sanitize(self, input: SanitizeInput) -> Verdict:
        # input.stage: Stage_Request() (input.request.messages is the prompt)
        #   or Stage_Response() (input.response is the answer's messages)
        #   or Stage_Other(name) for a stage added in a later contract version.
        # input.caller: key_alias, user, team, tags, tier, metadata.
        # A message: role (types.Role_User() ...), content (a list of
        #   types.ContentPart_Text(str) / _ImageUrl(str) / _Other(json)),
        #   name, extra (other OpenAI fields as key/JSON pairs).
        #
        # Answer with one of:
        #   Verdict_Allow()
        #   Verdict_Deny("my-sanitizer: why")   -> the client gets a 400
        #   Verdict_Rewrite([messages...])      -> replaces the messages
        #     (import Verdict_Rewrite from wit_world.exports.sanitizer too)
        if isinstance(input.stage, Stage_Request):
            for message in input.request.messages:
                for part in message.content:
                    if isinstance(part, types.ContentPart_Text):
                        reason = check_text(part.value)
                        if reason is not None:
                            # Goes to the gateway's log; never log prompt text.
                            log.log(log.Level.WARN, f"denied: {reason}")
                            return Verdict_Deny(f"{NAME}: {reason}")
        return Verdict_Allow()
