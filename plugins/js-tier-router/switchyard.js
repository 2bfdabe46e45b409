// Helpers for Switchyard plugins written in JavaScript (componentize-js).
// Plain JavaScript with no WIT imports except `log`, so a plugin can vendor
// this file as it is. See sdk/js/README.md.

import { log } from 'switchyard:plugin/log@0.3.0';

// A `plugin-error` for a function that returns `result<_, plugin-error>`:
// `throw pluginError('invalid-config', 'why')`. Kinds: invalid-config,
// invalid-input, internal, other.
export function pluginError(kind, message) {
  return { tag: kind, val: message };
}

// Wraps an export so that an exception it did not mean to throw (a bug: a
// TypeError, a failed assertion) reaches the gateway's log with its message
// and stack, at error level, before it traps the call. A thrown
// `pluginError(...)` passes through untouched: it is the call's error
// result.
export function guarded(name, fn) {
  return function (...args) {
    try {
      return fn.apply(this, args);
    } catch (e) {
      if (e instanceof Error) {
        // One line, so the gateway's log keeps it with the plugin's name.
        const frames = typeof e.stack === 'string' ? e.stack.split('\n').map((l) => l.trim()).filter((l) => l !== '') : [];
        const stack = frames.length > 0 ? `; stack: ${frames.join(' | ')}` : '';
        log('error', `uncaught ${e.name} in ${name}: ${e.message}${stack}`);
      }
      throw e;
    }
  };
}

// The value of a `field` list (`metadata`, `extra`: key and JSON text) by
// key, parsed; `undefined` when absent or not JSON.
export function field(fields, key) {
  for (const f of fields ?? []) {
    if (f.key === key) {
      try {
        return JSON.parse(f.value);
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

// Parses the config `init` receives and refuses fields the plugin does not
// know (the gateway has checked the schema already; this guards the
// defaults): the object, or a thrown `invalid-config` error.
export function parseConfig(name, json, known) {
  let config;
  try {
    config = JSON.parse(json || '{}');
  } catch (e) {
    throw pluginError('invalid-config', `${name}: config is not JSON: ${e.message}`);
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw pluginError('invalid-config', `${name}: config must be an object`);
  }
  for (const key of Object.keys(config)) {
    if (!known.includes(key)) {
      throw pluginError('invalid-config', `${name}: config field "${key}" is not known`);
    }
  }
  return config;
}
