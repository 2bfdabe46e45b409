// switchyard-world: router-plugin
//
// js-tier-router: a Switchyard router in JavaScript, built into a
// WebAssembly component by componentize-js (see build.sh and
// docs/writing-plugins.md, "A router in JavaScript").
//
// It orders a model group's deployments by who is calling and how each
// deployment is doing right now:
//
// - healthy deployments first, then those cooling down (soonest back
//   first), then unhealthy ones; within healthy ones, a deployment with
//   `max_in_flight` or more requests in flight goes after the others;
// - a premium caller (the caller's tier in `premium_tiers`, or request or
//   key metadata `priority: "high"`) gets the fastest first (lowest moving
//   average latency; unmeasured ones after measured ones);
// - everyone else gets the least busy first (fewest in flight, then the
//   faster).
//
// The reason (`x-switchyard-route-reason`) says which rule applied, e.g.
// `js-tier-router: premium caller (vip): fastest first`.

import { log } from 'switchyard:plugin/log@0.3.0';
import { field, guarded, parseConfig, pluginError } from './switchyard.js';

const NAME = 'js-tier-router';
const VERSION = '0.1.0';

const SCHEMA = {
  type: 'object',
  properties: {
    premium_tiers: {
      type: 'array',
      items: { type: 'string' },
      description: 'Caller tiers served fastest-first (default: ["vip", "enterprise"])',
    },
    max_in_flight: {
      type: 'integer',
      minimum: 1,
      description: 'A healthy deployment with this many requests in flight goes last among healthy ones (default: 64)',
    },
  },
  additionalProperties: false,
};

// The config `init` set; the defaults until then.
let config = { premiumTiers: ['vip', 'enterprise'], maxInFlight: 64 };
// The gateway's deployment table (set-deployments); candidates index it.
let table = [];

export const describe = guarded('describe', () => ({
  name: NAME,
  version: VERSION,
  kind: 'router',
  providerPrefixes: [],
  configSchema: JSON.stringify(SCHEMA),
  description: "Orders deployments by the caller's tier and their live health, load and latency (JavaScript example)",
}));

export const init = guarded('init', (json) => {
  const c = parseConfig(NAME, json, Object.keys(SCHEMA.properties));
  config = {
    premiumTiers: (c.premium_tiers ?? ['vip', 'enterprise']).map((t) => String(t).toLowerCase()),
    maxInFlight: c.max_in_flight ?? 64,
  };
});

// Why the caller is premium, or null.
function premium(caller, request) {
  const tier = (caller.tier ?? '').toLowerCase();
  if (tier !== '' && config.premiumTiers.includes(tier)) {
    return tier;
  }
  const priority = field(caller.metadata, 'priority') ?? field(request.metadata, 'priority');
  return priority === 'high' ? 'priority high' : null;
}

// 0 healthy, 1 cooling down, 2 unhealthy or unknown.
function healthRank(health) {
  switch (health.tag) {
    case 'healthy':
      return 0;
    case 'cooling-down':
      return 1;
    default:
      return 2;
  }
}

function cooldownLeft(health) {
  return health.tag === 'cooling-down' ? Number(health.val) : 0;
}

function latency(c) {
  return c.latencyAvgMs ?? Number.POSITIVE_INFINITY;
}

export const router = {
  setDeployments: guarded('set-deployments', (deployments) => {
    table = deployments;
  }),

  route: guarded('route', (input) => {
    const { request, caller, candidates } = input;
    if (candidates.length === 0) {
      return { order: [], modelGroup: undefined, reason: `${NAME}: no candidates`, extra: [] };
    }
    for (const c of candidates) {
      if (c.deployment >= table.length) {
        throw pluginError('internal', `${NAME}: candidate ${c.deployment} is not in the table (${table.length} deployments)`);
      }
    }
    const who = premium(caller, request);
    const busy = (c) => (c.health.tag === 'healthy' && c.inFlight >= config.maxInFlight ? 1 : 0);
    const byState = (a, b) =>
      healthRank(a.health) - healthRank(b.health) ||
      busy(a) - busy(b) ||
      cooldownLeft(a.health) - cooldownLeft(b.health);
    const byLoad = who
      ? (a, b) => latency(a) - latency(b) || a.inFlight - b.inFlight
      : (a, b) => a.inFlight - b.inFlight || latency(a) - latency(b);
    // Array.prototype.sort is stable: ties keep the table's order.
    const ordered = [...candidates].sort((a, b) => byState(a, b) || byLoad(a, b));
    const rule = who ? `premium caller (${who}): fastest first` : 'least busy first';
    const skipped = ordered.filter((c) => healthRank(c.health) > 0).length;
    if (skipped === ordered.length) {
      log('warn', `${NAME}: every candidate of ${request.model} is cooling down or unhealthy`);
    }
    return {
      order: ordered.map((c) => c.deployment),
      modelGroup: undefined,
      reason: `${NAME}: ${rule}`,
      extra: [
        { key: 'premium', value: JSON.stringify(who !== null) },
        { key: 'first', value: JSON.stringify(table[ordered[0].deployment].id) },
      ],
    };
  }),
};
