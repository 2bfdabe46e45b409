//! The `webhooks:` section: named hooks, each with a `url`, `headers`
//! (values may use `${NAME}` and `os.environ/NAME`), the `events` it wants
//! (default: all) and the `secret` that signs each body (default: the
//! `WEBHOOK_SECRET` environment variable, or the file's
//! `environment_variables`).
//!
//! ```yaml
//! webhooks:
//!   alerts:
//!     url: https://hooks.example.com/switchyard
//!     headers: {Authorization: "Bearer ${ALERTS_TOKEN}"}
//!     events: [request_error, model_fallback, budget_exceeded]
//!     secret: os.environ/ALERTS_SECRET
//! litellm_settings:
//!   failure_callback: [alerts]
//! ```
//!
//! A hook is on when `litellm_settings.callbacks`, `success_callback` or
//! `failure_callback` names it, as LiteLLM turns its callbacks on; a hook
//! defined but not named is off, with a warning, and its values are not
//! read (its environment variables need not be set). Which events it gets
//! is its own `events` list, whichever callback list names it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use serde_yaml::Value;

use super::env::Lookup;
use super::error::{ConfigError, KeyPath};
use super::mend;
use super::notes::Notes;
use super::raw::Part;

/// The variable a hook's secret defaults to.
pub const SECRET_VARIABLE: &str = "WEBHOOK_SECRET";

/// The LiteLLM callback lists that turn a hook on.
const CALLBACK_KEYS: [&str; 3] = ["callbacks", "success_callback", "failure_callback"];

/// Headers the gateway sets on every delivery; a hook's own are ignored.
const RESERVED: [&str; 4] = [
    "content-type",
    "x-signature-256",
    "x-switchyard-event",
    "x-switchyard-delivery",
];

/// What a webhook can be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    RequestStart,
    RequestEnd,
    RequestError,
    ModelFallback,
    RateLimitHit,
    BudgetExceeded,
    DeploymentCooldown,
    PluginFailed,
}

impl Event {
    pub const ALL: [Event; 8] = [
        Event::RequestStart,
        Event::RequestEnd,
        Event::RequestError,
        Event::ModelFallback,
        Event::RateLimitHit,
        Event::BudgetExceeded,
        Event::DeploymentCooldown,
        Event::PluginFailed,
    ];

    /// Its `event_type`, as configs and bodies spell it.
    pub fn name(self) -> &'static str {
        match self {
            Event::RequestStart => "request_start",
            Event::RequestEnd => "request_end",
            Event::RequestError => "request_error",
            Event::ModelFallback => "model_fallback",
            Event::RateLimitHit => "rate_limit_hit",
            Event::BudgetExceeded => "budget_exceeded",
            Event::DeploymentCooldown => "deployment_cooldown",
            Event::PluginFailed => "plugin_failed",
        }
    }

    pub fn from_name(name: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.name() == name)
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of events: one bit each, so the request path asks in one AND.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Events(u8);

impl Events {
    pub const ALL: Events = Events(u8::MAX);

    pub fn contains(self, e: Event) -> bool {
        self.0 & e.bit() != 0
    }

    pub fn insert(&mut self, e: Event) {
        self.0 |= e.bit();
    }

    pub fn union(self, other: Events) -> Events {
        Events(self.0 | other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Its events, in [`Event::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Event> {
        Event::ALL.into_iter().filter(move |e| self.contains(*e))
    }
}

impl FromIterator<Event> for Events {
    fn from_iter<I: IntoIterator<Item = Event>>(iter: I) -> Events {
        let mut set = Events::default();
        iter.into_iter().for_each(|e| set.insert(e));
        set
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(Event::name))
            .finish()
    }
}

/// One hook that is on.
#[derive(Clone, PartialEq)]
pub struct Webhook {
    /// Its name in `webhooks:`.
    pub name: String,
    /// Where events are POSTed (references expanded; may hold a token).
    pub url: reqwest::Url,
    /// Sent with every delivery (values may hold tokens).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub events: Events,
    /// Signs every body (HMAC-SHA256).
    pub secret: String,
}

impl Webhook {
    /// The URL as it may be shown: scheme, host, port and path, without
    /// user, password or query (which may hold tokens).
    pub fn shown_url(&self) -> String {
        let mut u = self.url.clone();
        let _ = u.set_username("");
        let _ = u.set_password(None);
        let query = u.query().is_some();
        u.set_query(None);
        u.set_fragment(None);
        if query {
            format!("{u}?…")
        } else {
            u.to_string()
        }
    }
}

/// Never the secret, a header's value or the full URL.
impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("name", &self.name)
            .field("url", &self.shown_url())
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// The section, read.
#[derive(Debug, Default)]
pub(super) struct Hooks {
    /// The hooks that are on, by name.
    pub on: Vec<Webhook>,
    /// Every hook's name, lower-cased (on or off).
    defined: BTreeSet<String>,
}

impl Hooks {
    /// Whether `name` (lower-cased, as callback lists are read) is a hook's.
    pub fn names(&self, name: &str) -> bool {
        self.defined.contains(name)
    }
}

/// One hook as written.
#[derive(Debug, Deserialize)]
#[serde(expecting = "a mapping with at least `url`")]
struct RawWebhook {
    url: Option<String>,
    headers: Option<BTreeMap<String, String>>,
    events: Option<Vec<String>>,
    secret: Option<String>,
    #[serde(flatten)]
    unknown: BTreeMap<String, Value>,
}

impl Part for RawWebhook {
    fn others(&self) -> usize {
        self.unknown.len()
    }
}

/// The names `litellm_settings.callbacks`, `success_callback` and
/// `failure_callback` give (a string or a list each), lower-cased.
pub(super) fn listed(root: &Value) -> BTreeSet<String> {
    let Some(settings) = root.get("litellm_settings") else {
        return BTreeSet::new();
    };
    CALLBACK_KEYS
        .iter()
        .filter_map(|k| settings.get(*k))
        .flat_map(|v| match v {
            Value::String(s) => vec![s.as_str()],
            Value::Sequence(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        })
        .map(|s| s.trim().to_ascii_lowercase())
        .collect()
}

/// Whether a callback list names the hook `name`.
fn is_on(name: &str, listed: &BTreeSet<String>) -> bool {
    listed.contains(&name.trim().to_ascii_lowercase())
}

/// What the section holds that is never read: each hook that is off, and
/// each key of a hook that no field reads. Their environment references
/// need not be set.
pub(super) fn unread(root: &Value, listed: &BTreeSet<String>) -> Vec<KeyPath> {
    let at = KeyPath::root().key("webhooks");
    let Some(hooks) = root.get("webhooks").and_then(Value::as_mapping) else {
        return Vec::new();
    };
    let mut paths = Vec::new();
    for (name, hook) in hooks {
        let Some(name) = name.as_str() else { continue };
        let hook_at = at.key(name);
        if !is_on(name, listed) {
            paths.push(hook_at);
            continue;
        }
        let keys = hook.as_mapping().into_iter().flat_map(|m| m.keys());
        paths.extend(
            keys.filter_map(Value::as_str)
                .filter(|k| !RawWebhook::reads(k))
                .map(|k| hook_at.key(k)),
        );
    }
    paths
}

/// Reads the section (found at `at`) into the hooks that are on; `vars`
/// gives a hook without `secret` its [`SECRET_VARIABLE`].
pub(super) fn read(
    value: &mut Value,
    at: &KeyPath,
    listed: &BTreeSet<String>,
    vars: Lookup,
    notes: &mut Notes,
) -> Result<Hooks, ConfigError> {
    if value.is_null() {
        return Ok(Hooks::default());
    }
    let defined = value
        .as_mapping()
        .into_iter()
        .flat_map(|m| m.keys().filter_map(Value::as_str))
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    // Hooks that are off are never read: their values cannot fail a load.
    if let Value::Mapping(hooks) = value {
        let off: Vec<Value> = hooks
            .keys()
            .filter(|k| k.as_str().is_some_and(|n| !is_on(n, listed)))
            .cloned()
            .collect();
        for key in off {
            let name = key.as_str().unwrap_or_default();
            notes.warn(format!(
                "{} is off: no litellm_settings callback (callbacks, success_callback or failure_callback) names {name:?}",
                at.key(name)
            ));
            hooks.remove(&key);
        }
    }
    let raw: BTreeMap<String, RawWebhook> = mend::read(value, at, notes)?;
    let mut on = Vec::with_capacity(raw.len());
    for (name, hook) in raw {
        if let Some(hook) = build(&name, hook, &at.key(&name), vars, notes)? {
            on.push(hook);
        }
    }
    Ok(Hooks { on, defined })
}

fn build(
    name: &str,
    raw: RawWebhook,
    at: &KeyPath,
    vars: Lookup,
    notes: &mut Notes,
) -> Result<Option<Webhook>, ConfigError> {
    for key in raw.unknown.keys() {
        notes.warn(format!(
            "{} is not used by Switchyard and is ignored",
            at.key(key)
        ));
    }
    let url = raw.url.ok_or_else(|| {
        ConfigError::invalid(
            at.clone(),
            "no `url`: a webhook needs the URL its events are POSTed to",
        )
    })?;
    // Not echoed: a URL may hold a token.
    let url = reqwest::Url::parse(url.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            ConfigError::invalid(at.key("url"), "expected an http:// or https:// URL")
        })?;
    let mut headers = Vec::new();
    for (key, value) in raw.headers.unwrap_or_default() {
        let key_at = at.key("headers").key(&key);
        let header = HeaderName::from_bytes(key.trim().as_bytes())
            .map_err(|_| ConfigError::invalid(key_at.clone(), "not a valid header name"))?;
        if RESERVED.contains(&header.as_str()) {
            notes.warn(format!(
                "{key_at} is set by the gateway on every delivery; the hook's value is ignored"
            ));
            continue;
        }
        // Not echoed: a header's value may hold a token.
        let value = HeaderValue::from_str(&value)
            .map_err(|_| ConfigError::invalid(key_at, "not a valid header value"))?;
        headers.push((header, value));
    }
    let events = match raw.events {
        None => Events::ALL,
        Some(names) => {
            let mut events = Events::default();
            for (i, name) in names.iter().enumerate() {
                match Event::from_name(name.trim()) {
                    Some(e) => events.insert(e),
                    None => notes.warn(format!(
                        "{}: {name:?} is not an event Switchyard sends and is ignored (events: {})",
                        at.key("events").index(i),
                        Event::ALL.map(Event::name).join(", ")
                    )),
                }
            }
            events
        }
    };
    if events.is_empty() {
        notes.warn(format!("{at} is off: its events name no event"));
        return Ok(None);
    }
    let secret = raw
        .secret
        .or_else(|| vars(SECRET_VARIABLE))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ConfigError::invalid(
                at.key("secret"),
                format!(
                    "no secret to sign deliveries with: set `secret` or the {SECRET_VARIABLE} environment variable"
                ),
            )
        })?;
    Ok(Some(Webhook {
        name: name.to_string(),
        url,
        headers,
        events,
        secret,
    }))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    fn load(yaml: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let lookup = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        Config::parse_with_env(yaml, Path::new("."), &lookup)
    }

    fn hook_warnings(c: &Config) -> Vec<&String> {
        c.warnings
            .iter()
            .filter(|w| w.starts_with("webhooks"))
            .collect()
    }

    #[test]
    fn a_named_hook_reads_its_url_headers_events_and_secret() {
        let c = load(
            "webhooks:\n  Alerts:\n    url: https://u:p@hooks.example.com/in?token=t\n    headers:\n      Authorization: Bearer ${HOOK_TOKEN}\n      X-Team: os.environ/TEAM\n    events: [request_error, model_fallback]\n    secret: s3cret\n  audit:\n    url: http://127.0.0.1:9/audit\nlitellm_settings:\n  success_callback: [langfuse, alerts]\n  failure_callback: audit\n",
            &[("HOOK_TOKEN", "tok"), ("TEAM", "ops"), ("WEBHOOK_SECRET", "from-env")],
        )
        .unwrap();
        assert_eq!(hook_warnings(&c), Vec::<&String>::new());
        let [alerts, audit] = c.webhooks.as_slice() else {
            panic!("{:?}", c.webhooks)
        };
        assert_eq!(alerts.name, "Alerts");
        assert_eq!(
            alerts.url.as_str(),
            "https://u:p@hooks.example.com/in?token=t"
        );
        assert_eq!(alerts.shown_url(), "https://hooks.example.com/in?…");
        assert_eq!(
            alerts
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.to_str().unwrap()))
                .collect::<Vec<_>>(),
            [("authorization", "Bearer tok"), ("x-team", "ops")]
        );
        assert_eq!(
            alerts.events.iter().collect::<Vec<_>>(),
            [Event::RequestError, Event::ModelFallback]
        );
        assert_eq!(alerts.secret, "s3cret");
        assert_eq!(audit.events, Events::ALL);
        assert_eq!(audit.secret, "from-env");
        assert_eq!(audit.shown_url(), "http://127.0.0.1:9/audit");
        // Debug shows neither secrets nor tokens.
        let shown = format!("{:?}", c.webhooks);
        for secret in ["s3cret", "from-env", "tok", "token=t", "u:p"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }

    #[test]
    fn the_secret_defaults_to_webhook_secret_from_the_files_environment_variables() {
        let c = load(
            "environment_variables: {WEBHOOK_SECRET: file-secret}\nwebhooks: {h: {url: 'http://127.0.0.1:1/'}}\nlitellm_settings: {callbacks: [H]}\n",
            &[],
        )
        .unwrap();
        assert_eq!(c.webhooks[0].secret, "file-secret");
    }

    #[test]
    fn a_hook_no_callback_names_is_off_and_its_values_are_not_read() {
        let c = load(
            "webhooks:\n  quiet:\n    url: ${SURELY_UNSET_HOOK_URL}\n    events: {not: a list}\n",
            &[],
        )
        .unwrap();
        assert!(c.webhooks.is_empty());
        assert_eq!(
            hook_warnings(&c),
            [
                "webhooks.quiet is off: no litellm_settings callback (callbacks, success_callback or failure_callback) names \"quiet\""
            ]
        );
    }

    #[test]
    fn unknown_keys_and_events_are_warned_once_each_and_their_references_not_needed() {
        let c = load(
            "webhooks:\n  h:\n    url: http://127.0.0.1:1/\n    secret: s\n    timeout: os.environ/SURELY_UNSET_X\n    retries: 3\n    events: [request_end, request_ended]\n    headers: {X-Signature-256: forged}\nlitellm_settings: {callbacks: h}\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            hook_warnings(&c),
            [
                "webhooks.h.retries is not used by Switchyard and is ignored",
                "webhooks.h.timeout is not used by Switchyard and is ignored",
                "webhooks.h.headers.X-Signature-256 is set by the gateway on every delivery; the hook's value is ignored",
                "webhooks.h.events[1]: \"request_ended\" is not an event Switchyard sends and is ignored (events: request_start, request_end, request_error, model_fallback, rate_limit_hit, budget_exceeded, deployment_cooldown, plugin_failed)",
            ]
        );
        assert_eq!(
            c.webhooks[0].events.iter().collect::<Vec<_>>(),
            [Event::RequestEnd]
        );
        assert!(c.webhooks[0].headers.is_empty());
        // A single event name is read as a list of one.
        let c = load(
            "webhooks: {h: {url: 'http://127.0.0.1:1/', secret: s, events: plugin_failed}}\nlitellm_settings: {callbacks: h}\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            c.webhooks[0].events.iter().collect::<Vec<_>>(),
            [Event::PluginFailed]
        );
    }

    #[test]
    fn a_hook_that_cannot_be_delivered_is_an_error_naming_its_key_and_no_secret() {
        let on = "litellm_settings: {callbacks: h}\n";
        for (hook, vars, expected) in [
            (
                "{secret: s}",
                &[][..],
                "webhooks.h: no `url`: a webhook needs the URL its events are POSTed to",
            ),
            (
                "{url: 'ftp://x/?token=hidden', secret: s}",
                &[],
                "webhooks.h.url: expected an http:// or https:// URL",
            ),
            (
                "{url: 'http://x/', secret: s, headers: {'bad name': v}}",
                &[],
                "webhooks.h.headers.bad name: not a valid header name",
            ),
            (
                "{url: 'http://x/', secret: s, headers: {X-A: \"hidden\\nvalue\"}}",
                &[],
                "webhooks.h.headers.X-A: not a valid header value",
            ),
            (
                "{url: 'http://x/'}",
                &[],
                "webhooks.h.secret: no secret to sign deliveries with: set `secret` or the WEBHOOK_SECRET environment variable",
            ),
            (
                "{url: 'http://x/', secret: ''}",
                &[("WEBHOOK_SECRET", "")],
                "webhooks.h.secret: no secret to sign deliveries with: set `secret` or the WEBHOOK_SECRET environment variable",
            ),
            (
                "{url: 'http://x/', secret: s, headers: {X-A: '${SURELY_UNSET_Y}'}}",
                &[],
                "webhooks.h.headers.X-A: environment variable SURELY_UNSET_Y is not set (referenced as ${SURELY_UNSET_Y})",
            ),
        ] {
            let err = load(&format!("webhooks:\n  h: {hook}\n{on}"), vars).unwrap_err();
            assert_eq!(err.to_string(), expected, "{hook}");
            assert!(!err.to_string().contains("hidden"), "{err}");
        }
    }

    #[test]
    fn an_empty_events_list_turns_the_hook_off() {
        let c = load(
            "webhooks: {h: {url: 'http://x/', secret: s, events: []}}\nlitellm_settings: {callbacks: h}\n",
            &[],
        )
        .unwrap();
        assert!(c.webhooks.is_empty());
        assert_eq!(
            hook_warnings(&c),
            ["webhooks.h is off: its events name no event"]
        );
    }
}
