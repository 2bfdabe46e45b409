// switchyard-world: sanitizer-plugin
//
// A Switchyard sanitiser in JavaScript: the starting point for your own.
// componentize-js builds this module into a WebAssembly component for the
// `sanitizer-plugin` world of Switchyard's `wit/` (see build.sh). It looks
// here for one export per WIT export, in camelCase:
//
// - `describe()` and `init(configJson)`: the world's own functions;
// - `sanitizer`: an object with `sanitize(input)`, the `sanitizer` interface.
//
// WIT types arrive as plain objects with camelCase fields; a variant is
// `{ tag: 'text', val: '...' }` (tags in kebab-case); `option<T>` is the
// value or `undefined`; u64 is a BigInt. A function returning
// `result<T, plugin-error>` returns `T` and fails with
// `throw pluginError('invalid-input', 'why')`. Any other exception traps the
// call: `guarded` logs its message and stack through the gateway's log first.
//
// The plugin runs with no network, no files and no clock.

import { log } from 'switchyard:plugin/log@0.3.0';
import { guarded, parseConfig } from './switchyard.js';

const NAME = 'my-sanitizer'; // lower-case letters, digits and "-"; the gateway's config names it

// The config this plugin accepts, as a JSON Schema. The gateway checks the
// plugin's config section against it before calling `init`.
const SCHEMA = {
  type: 'object',
  properties: {
    deny_words: { type: 'array', items: { type: 'string' }, description: 'Words that deny a prompt (case-insensitive)' },
  },
  additionalProperties: false,
};

let denyWords = [];

export const describe = guarded('describe', () => ({
  // Called before `init`: must not depend on config.
  name: NAME,
  version: '0.1.0',
  kind: 'sanitizer',
  providerPrefixes: [],
  configSchema: JSON.stringify(SCHEMA),
  description: 'Denies prompts that contain a configured word (template)',
}));

export const init = guarded('init', (json) => {
  // The plugin's section of the gateway's YAML, as JSON ("{}" if none).
  const c = parseConfig(NAME, json, Object.keys(SCHEMA.properties));
  denyWords = (c.deny_words ?? []).map((w) => String(w).toLowerCase());
});

// Your rule: why `text` must not pass, or null to let it pass.
function checkText(text) {
  const lower = text.toLowerCase();
  const word = denyWords.find((w) => lower.includes(w));
  return word === undefined ? null : `contains "${word}"`;
}

export const sanitizer = {
  sanitize: guarded('sanitize', (input) => {
    // input.stage: {tag: 'request'} (input.request.messages is the prompt),
    //   {tag: 'response'} (input.response is the answer's messages), or
    //   {tag: 'other', val} for a stage added in a later contract version.
    // input.caller: keyAlias, user, team, tags, tier, metadata.
    // A message: role ({tag: 'user'} ...), content (a list of
    //   {tag: 'text', val} / {tag: 'image-url', val} / {tag: 'other', val}),
    //   name, extra.
    //
    // Answer with one of:
    //   {tag: 'allow'}
    //   {tag: 'deny', val: 'my-sanitizer: why'}   -> the client gets a 400
    //   {tag: 'rewrite', val: [messages...]}      -> replaces the messages
    if (input.stage.tag === 'request') {
      for (const message of input.request.messages) {
        for (const part of message.content) {
          if (part.tag === 'text') {
            const reason = checkText(part.val);
            if (reason !== null) {
              // Goes to the gateway's log; never log prompt text.
              log('warn', `denied: ${reason}`);
              return { tag: 'deny', val: `${NAME}: ${reason}` };
            }
          }
        }
      }
    }
    return { tag: 'allow' };
  }),
};
