"""prompt-guard: a Switchyard sanitiser written in Python.

Built into a WebAssembly component by componentize-py against the
`sanitizer-plugin` world of `wit/` (see build.sh). componentize-py looks in
this module for one class per export:

- `WitWorld`: the world's own exports, `describe` and `init`;
- `Sanitizer`: the exported `sanitizer` interface, `sanitize`.

A WIT `result<T, plugin-error>` is a plain return value for `ok` and
`raise Err(PluginError_...(...))` for `err`; anything else escaping an
export is logged with its traceback (`@logged`, from
sdk/python/template/switchyard_log.py, which build.sh puts on the path) before it traps. The rules live in guard.py,
which does not import the bindings, so they are unit-tested with plain
`python3 -m unittest`.
"""

import guard
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
    Verdict_Rewrite,
)
from wit_world.imports import log, types

# The active config. Parsed here once so the defaults are ready in the
# snapshot componentize-py takes at build time; `init` replaces it.
_config = guard.parse_config("{}")

_ROLE_NAMES = {
    types.Role_System: "system",
    types.Role_Developer: "developer",
    types.Role_User: "user",
    types.Role_Assistant: "assistant",
    types.Role_Tool: "tool",
}


def _role_name(role: types.Role) -> str:
    if isinstance(role, types.Role_Other):
        return role.value.strip().lower()
    return _ROLE_NAMES.get(type(role), "unknown")


def _to_msg(message: types.Message) -> guard.Msg:
    texts = tuple(p.value for p in message.content if isinstance(p, types.ContentPart_Text))
    tool_calls = any(f.key == "tool_calls" and f.value not in ("null", "[]") for f in message.extra)
    return guard.Msg(role=_role_name(message.role), texts=texts, has_tool_calls=tool_calls)


class WitWorld(WorldExports):
    @logged
    def describe(self) -> types.PluginInfo:
        return types.PluginInfo(
            name=guard.NAME,
            version=guard.VERSION,
            kind=types.PluginKind.SANITIZER,
            provider_prefixes=[],
            config_schema=guard.config_schema_json(),
            description=guard.DESCRIPTION,
        )

    @logged
    def init(self, config: str) -> None:
        global _config
        try:
            _config = guard.parse_config(config)
        except guard.ConfigError as e:
            raise Err(types.PluginError_InvalidConfig(str(e)))
        except Exception as e:  # e.g. JSON nested too deep: fail, never trap
            raise Err(types.PluginError_InvalidConfig(f"{guard.NAME}: {type(e).__name__}: {e}"))


class Sanitizer(SanitizerExports):
    @logged
    def sanitize(self, input: SanitizeInput) -> Verdict:
        # Only prompts are checked; answers (and stages this version of the
        # contract does not name) pass.
        if not isinstance(input.stage, Stage_Request):
            return Verdict_Allow()
        messages = input.request.messages
        try:
            decision = guard.check_request(_config, [_to_msg(m) for m in messages])
        except Exception as e:  # a bug here must fail this call, not trap
            raise Err(types.PluginError_Internal(f"{guard.NAME}: {type(e).__name__}: {e}"))
        if isinstance(decision, guard.Deny):
            log.log(log.Level.WARN, decision.log)
            return Verdict_Deny(decision.reason)
        if isinstance(decision, guard.Trim):
            log.log(log.Level.INFO, decision.log)
            return Verdict_Rewrite([messages[i] for i in decision.keep])
        return Verdict_Allow()
