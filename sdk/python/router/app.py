# switchyard-world: router-plugin
"""A Switchyard router in Python: the starting point for your own.

componentize-py builds this module into a WebAssembly component for the
`router-plugin` world of Switchyard's `wit/` (see build.sh). It looks here
for one class per export, by name:

- `WitWorld` - the world's own functions: `describe` and `init`;
- `Router`   - the `router` interface: `set_deployments` and `route`.

WIT types arrive as the generated dataclasses (build.sh writes the bindings
to target/bindings/wit_world/ beside this file: read them there). A WIT
variant is one class per case (`Health_Healthy()`, `Health_CoolingDown(ms)`);
`option<T>` is `T` or `None`. A function returning `result<T, plugin-error>`
returns `T` and fails with `raise Err(types.PluginError_InvalidInput("..."))`.
Any other exception traps the call; `@logged` (switchyard_log.py, beside
this file) first writes its message and traceback to the gateway's log.

The plugin runs with no network, no files and no clock. Module-level code
runs once, at build time, and its state is part of the component.
"""

import json
from typing import List

from componentize_py_types import Err
from switchyard_log import logged
from wit_world import WitWorld as WorldExports
from wit_world.exports import Router as RouterExports
from wit_world.exports.router import (
    Candidate,
    Deployment,
    Health_CoolingDown,
    Health_Healthy,
    Health_Unhealthy,
    RouteDecision,
    RouteRequest,
)
from wit_world.imports import log, types

NAME = "my-router"  # lower-case letters, digits and "-"; the gateway's config names it

# The config this plugin accepts, as a JSON Schema. The gateway checks the
# plugin's config section against it before calling `init`.
CONFIG_SCHEMA = {
    "type": "object",
    "properties": {
        "skip_unhealthy": {
            "type": "boolean",
            "description": "Leave unhealthy deployments out instead of trying them last",
        },
    },
    "additionalProperties": False,
}

skip_unhealthy = False
# Every deployment of the gateway, in config order; candidates point here.
table: List[Deployment] = []


def health_rank(health) -> int:
    if isinstance(health, Health_Healthy):
        return 0
    if isinstance(health, Health_CoolingDown):
        return 1
    return 2


class WitWorld(WorldExports):
    @logged
    def describe(self) -> types.PluginInfo:
        # Called before `init`: must not depend on config.
        return types.PluginInfo(
            name=NAME,
            version="0.1.0",
            kind=types.PluginKind.ROUTER,
            provider_prefixes=[],  # only provider adapters list prefixes
            config_schema=json.dumps(CONFIG_SCHEMA),  # or None: any config
            description="Healthy deployments first, the least busy first (template)",
        )

    @logged
    def init(self, config_json: str) -> None:
        # The plugin's section of the gateway's YAML, as JSON ("{}" if none).
        global skip_unhealthy
        parsed = json.loads(config_json or "{}")
        if not isinstance(parsed, dict):
            raise Err(types.PluginError_InvalidConfig(f"{NAME}: config must be an object"))
        for key in parsed:
            if key not in CONFIG_SCHEMA["properties"]:
                raise Err(types.PluginError_InvalidConfig(f'{NAME}: config field "{key}" is not known'))
        skip_unhealthy = bool(parsed.get("skip_unhealthy", False))


class Router(RouterExports):
    @logged
    def set_deployments(self, deployments: List[Deployment]) -> None:
        # deployments[i]: id, model_group, provider, model, rpm_limit,
        # tpm_limit, prices, context_window, tags, weight, order, extra.
        global table
        table = deployments

    @logged
    def route(self, request: RouteRequest) -> RouteDecision:
        # request.request: model, messages, stream, max_tokens, tags, metadata.
        # request.caller: key_alias, user, team, tags, tier (the customer
        #   tier, from key or team metadata or the request's
        #   metadata.customer_tier), metadata (key/JSON pairs).
        # request.candidates: deployment (an index into `table`), health,
        #   in_flight, latency_avg_ms, ttft_avg_ms, rpm_used, tpm_used.
        candidates: List[Candidate] = request.candidates
        if skip_unhealthy:
            candidates = [c for c in candidates if not isinstance(c.health, Health_Unhealthy)]
        # sorted() is stable: ties keep the config's order.
        ordered = sorted(candidates, key=lambda c: (health_rank(c.health), c.in_flight))
        if not ordered:
            log.log(log.Level.WARN, f"no deployment of {request.request.model} can serve")
        return RouteDecision(
            order=[c.deployment for c in ordered],  # indices into `table`, best first
            model_group=None,  # or another group's name to route there instead
            reason=f"{NAME}: least busy of {len(ordered)}",
            extra=[],  # types.Field(key, json_text) pairs for the log
        )
