// switchyard-world: router-plugin
//
// A Switchyard router in JavaScript: the starting point for your own.
// componentize-js builds this module into a WebAssembly component for the
// `router-plugin` world of Switchyard's `wit/` (see build.sh). It looks here
// for one export per WIT export, in camelCase:
//
// - `describe()` and `init(configJson)`: the world's own functions;
// - `router`: an object with `setDeployments(deployments)` and
//   `route(input)`, the `router` interface.
//
// WIT types arrive as plain objects with camelCase fields (`inFlight`,
// `latencyAvgMs`, `keyAlias`); a variant is `{ tag: 'cooling-down', val }`
// (tags in kebab-case); an enum is its kebab-case name (`'router'`);
// `option<T>` is the value or `undefined`; u64 is a BigInt; u32 and f64
// are numbers. A function returning `result<T, plugin-error>` returns `T`
// and fails with `throw pluginError('invalid-input', 'why')`. Any other
// exception traps the call: `guarded` logs its message and stack through the
// gateway's log first.
//
// The plugin runs with no network, no files and no clock. Module-level code
// runs once, when componentize-js builds the component.

import { log } from 'switchyard:plugin/log@0.3.0';
import { guarded, parseConfig } from './switchyard.js';

const NAME = 'my-router'; // lower-case letters, digits and "-"; the gateway's config names it

// The config this plugin accepts, as a JSON Schema. The gateway checks the
// plugin's config section against it before calling `init`.
const SCHEMA = {
  type: 'object',
  properties: {
    skip_unhealthy: { type: 'boolean', description: 'Leave unhealthy deployments out instead of trying them last' },
  },
  additionalProperties: false,
};

let config = { skipUnhealthy: false };
// Every deployment of the gateway, in config order; candidates point here.
let table = [];

export const describe = guarded('describe', () => ({
  // Called before `init`: must not depend on config.
  name: NAME,
  version: '0.1.0',
  kind: 'router',
  providerPrefixes: [], // only provider adapters list prefixes
  configSchema: JSON.stringify(SCHEMA), // or undefined: any config
  description: 'Healthy deployments first, the least busy first (template)',
}));

export const init = guarded('init', (json) => {
  // The plugin's section of the gateway's YAML, as JSON ("{}" if none).
  const c = parseConfig(NAME, json, Object.keys(SCHEMA.properties));
  config = { skipUnhealthy: c.skip_unhealthy ?? false };
});

function healthRank(health) {
  return health.tag === 'healthy' ? 0 : health.tag === 'cooling-down' ? 1 : 2;
}

export const router = {
  setDeployments: guarded('set-deployments', (deployments) => {
    // deployments[i]: id, modelGroup, provider, model, rpmLimit, tpmLimit,
    // prices, contextWindow, tags, weight, order, extra.
    table = deployments;
  }),

  route: guarded('route', (input) => {
    // input.request: model, messages, stream, maxTokens, tags, metadata.
    // input.caller: keyAlias, user, team, tags, tier (the customer tier,
    //   from key or team metadata or the request's metadata.customer_tier),
    //   metadata (a list of {key, value} with value as JSON text).
    // input.candidates: deployment (an index into `table`), health,
    //   inFlight, latencyAvgMs, ttftAvgMs, rpmUsed, tpmUsed.
    let candidates = input.candidates;
    if (config.skipUnhealthy) {
      candidates = candidates.filter((c) => c.health.tag !== 'unhealthy');
    }
    // Array.prototype.sort is stable: ties keep the config's order.
    const ordered = [...candidates].sort(
      (a, b) => healthRank(a.health) - healthRank(b.health) || a.inFlight - b.inFlight,
    );
    if (ordered.length === 0) {
      log('warn', `no deployment of ${input.request.model} can serve`);
    }
    return {
      order: ordered.map((c) => c.deployment), // indices into `table`, best first
      modelGroup: undefined, // or another group's name to route there instead
      reason: `${NAME}: least busy of ${ordered.length}`,
      extra: [], // {key, value: JSON text} pairs for the log
    };
  }),
};
