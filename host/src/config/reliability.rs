//! Retries, fallbacks and cooldowns: LiteLLM's `router_settings` (and the
//! `litellm_settings` spellings of the same keys), read into typed policy.
//!
//! ```yaml
//! router_settings:
//!   num_retries: 2                 # per model group; also per request
//!   retry_after: 0                 # seconds, the least wait before a retry
//!   retry_policy: {RateLimitErrorRetries: 3, AuthenticationErrorRetries: 0}
//!   allowed_fails: 3               # failures per minute before a cooldown
//!   allowed_fails_policy: {TimeoutErrorAllowedFails: 5}
//!   cooldown_time: 5               # seconds out of rotation
//!   fallbacks: [{gpt-4o: [claude, local]}]
//!   default_fallbacks: [local]
//!   context_window_fallbacks: [{gpt-4o: [gpt-4o-long]}]
//!   content_policy_fallbacks: [{gpt-4o: [claude]}]
//!   max_fallbacks: 5
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use super::error::{ConfigError, KeyPath};
use super::raw::RawReliability;
use super::values::Count;

/// The classes of failure that retry and cooldown policies key on, as
/// LiteLLM names them in `retry_policy` and `allowed_fails_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureClass {
    /// The provider refused the request as malformed (400, 404, 422).
    BadRequest,
    /// The deployment's credentials were refused (401, 403).
    Authentication,
    /// No answer in time (408, 504, the deployment's `timeout`).
    Timeout,
    /// The provider is rate-limiting this deployment (429).
    RateLimit,
    /// The provider refused the content (a moderation block).
    ContentPolicy,
    /// The prompt does not fit the model's context window.
    ContextWindow,
    /// The provider failed (5xx, a dropped connection, a garbled answer).
    Server,
}

impl FailureClass {
    /// Every class, in a fixed order (array index of [`ClassMap`]).
    pub const ALL: [FailureClass; 7] = [
        FailureClass::BadRequest,
        FailureClass::Authentication,
        FailureClass::Timeout,
        FailureClass::RateLimit,
        FailureClass::ContentPolicy,
        FailureClass::ContextWindow,
        FailureClass::Server,
    ];

    /// LiteLLM's exception name for the class, the stem of its policy keys.
    pub fn litellm_name(self) -> &'static str {
        match self {
            FailureClass::BadRequest => "BadRequestError",
            FailureClass::Authentication => "AuthenticationError",
            FailureClass::Timeout => "TimeoutError",
            FailureClass::RateLimit => "RateLimitError",
            FailureClass::ContentPolicy => "ContentPolicyViolationError",
            FailureClass::ContextWindow => "ContextWindowExceededError",
            FailureClass::Server => "InternalServerError",
        }
    }

    /// A short name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::BadRequest => "bad_request",
            FailureClass::Authentication => "authentication",
            FailureClass::Timeout => "timeout",
            FailureClass::RateLimit => "rate_limit",
            FailureClass::ContentPolicy => "content_policy",
            FailureClass::ContextWindow => "context_window",
            FailureClass::Server => "server_error",
        }
    }

    /// The class [`FailureClass::as_str`] names.
    pub fn parse(name: &str) -> Option<FailureClass> {
        FailureClass::ALL.into_iter().find(|c| c.as_str() == name)
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// Whether the failure says something about the deployment rather than
    /// the request: only those count towards a cooldown.
    pub fn blames_deployment(self) -> bool {
        !matches!(
            self,
            FailureClass::BadRequest | FailureClass::ContentPolicy | FailureClass::ContextWindow
        )
    }
}

/// One optional value per failure class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassMap([Option<u32>; FailureClass::ALL.len()]);

impl ClassMap {
    pub fn get(&self, class: FailureClass) -> Option<u32> {
        self.0[class.index()]
    }

    pub fn set(&mut self, class: FailureClass, value: u32) {
        self.0[class.index()] = Some(value);
    }
}

/// The most retries a request may ask for (`num_retries` in the body) when
/// the config allows fewer: a client must not keep the gateway busy on a
/// failing provider.
pub const MAX_REQUESTED_RETRIES: u32 = 10;

/// How a model group survives failing deployments.
#[derive(Debug, Clone)]
pub struct Reliability {
    /// Retries within a model group after the first attempt.
    pub num_retries: u32,
    /// Retries per failure class, overriding `num_retries`.
    pub retry_policy: ClassMap,
    /// The least wait before retrying a deployment that just failed.
    pub retry_after: Duration,
    /// Failures per minute a deployment may have before it cools down.
    pub allowed_fails: u32,
    /// Allowed failures per class, overriding `allowed_fails`.
    pub allowed_fails_policy: ClassMap,
    /// How long a deployment stays out of rotation.
    pub cooldown_time: Duration,
    /// `disable_cooldowns: true` keeps every deployment in rotation.
    pub disable_cooldowns: bool,
    /// Model group -> groups to try, in order, once its retries are spent.
    pub fallbacks: BTreeMap<String, Vec<String>>,
    /// Groups to try for any group without its own `fallbacks` entry.
    pub default_fallbacks: Vec<String>,
    /// Fallbacks when the prompt does not fit the context window.
    pub context_window_fallbacks: BTreeMap<String, Vec<String>>,
    /// Fallbacks when the provider refuses the content.
    pub content_policy_fallbacks: BTreeMap<String, Vec<String>>,
    /// The most fallback groups one request may try.
    pub max_fallbacks: usize,
}

impl Default for Reliability {
    /// LiteLLM's defaults: 2 retries, 3 allowed fails, 5 s cooldowns, up to
    /// 5 fallbacks.
    fn default() -> Self {
        Reliability {
            num_retries: 2,
            retry_policy: ClassMap::default(),
            retry_after: Duration::ZERO,
            allowed_fails: 3,
            allowed_fails_policy: ClassMap::default(),
            cooldown_time: Duration::from_secs(5),
            disable_cooldowns: false,
            fallbacks: BTreeMap::new(),
            default_fallbacks: Vec::new(),
            context_window_fallbacks: BTreeMap::new(),
            content_policy_fallbacks: BTreeMap::new(),
            max_fallbacks: 5,
        }
    }
}

impl Reliability {
    /// Retries allowed after a failure of `class`, given the request's own
    /// `num_retries` (which replaces the configured one).
    ///
    /// Without a `retry_policy` entry, failures that another attempt cannot
    /// mend (a malformed request, refused content, an over-long prompt, bad
    /// credentials) are not retried; the rest get `num_retries`.
    pub fn retries_for(&self, class: FailureClass, requested: Option<u32>) -> u32 {
        if let Some(n) = self.retry_policy.get(class) {
            return n;
        }
        match class {
            FailureClass::BadRequest
            | FailureClass::ContentPolicy
            | FailureClass::ContextWindow
            | FailureClass::Authentication => 0,
            FailureClass::Timeout | FailureClass::RateLimit | FailureClass::Server => requested
                .map(|r| r.min(self.num_retries.max(MAX_REQUESTED_RETRIES)))
                .unwrap_or(self.num_retries),
        }
    }

    /// Failures of `class` a deployment may have in a minute before it
    /// cools down. A rate limit or refused credentials cool it at once, as
    /// in LiteLLM, unless `allowed_fails_policy` says otherwise.
    pub fn allowed_fails_for(&self, class: FailureClass) -> u32 {
        if let Some(n) = self.allowed_fails_policy.get(class) {
            return n;
        }
        match class {
            FailureClass::RateLimit | FailureClass::Authentication => 0,
            _ => self.allowed_fails,
        }
    }

    /// The fallback groups after a failure of `class` in `routed` (the
    /// group the router chose) for a request to `asked` (the group the
    /// client named): the class-specific list, else the request's own list
    /// (`requested`), else `fallbacks`, else `default_fallbacks`. Lists are
    /// looked up under `routed`, then `asked`.
    pub fn fallbacks_for<'a>(
        &'a self,
        routed: &str,
        asked: &str,
        class: FailureClass,
        requested: Option<&'a [String]>,
    ) -> &'a [String] {
        let lookup = |map: &'a BTreeMap<String, Vec<String>>| {
            map.get(routed)
                .or_else(|| map.get(asked))
                .map(Vec::as_slice)
        };
        let specific = match class {
            FailureClass::ContextWindow => lookup(&self.context_window_fallbacks),
            FailureClass::ContentPolicy => lookup(&self.content_policy_fallbacks),
            _ => None,
        };
        specific
            .or(requested)
            .or_else(|| lookup(&self.fallbacks))
            .unwrap_or(&self.default_fallbacks)
    }

    /// Fallback lists keyed by an alias (`model_group_alias`) apply to the
    /// group it names: requests are served under the group's own name.
    pub fn resolve_aliases(&mut self, aliases: &BTreeMap<String, String>) {
        for map in [
            &mut self.fallbacks,
            &mut self.context_window_fallbacks,
            &mut self.content_policy_fallbacks,
        ] {
            let keyed_by_alias: Vec<String> = map
                .keys()
                .filter(|k| aliases.contains_key(*k))
                .cloned()
                .collect();
            for alias in keyed_by_alias {
                if let (Some(list), Some(group)) = (map.remove(&alias), aliases.get(&alias)) {
                    map.entry(group.clone()).or_insert(list);
                }
            }
        }
    }
}

/// A model group named in a fallback list, with where, for checking.
pub(crate) type NamedGroup = (KeyPath, String);

impl Reliability {
    /// The policy from the reliability keys of `router_settings` and
    /// `litellm_settings` (in that order: the first to set a key wins, as in
    /// LiteLLM's proxy), and every group the fallback lists name.
    pub(crate) fn from_raw(
        parts: [(KeyPath, RawReliability); 2],
    ) -> Result<(Reliability, Vec<NamedGroup>), ConfigError> {
        let [(router_at, router), (litellm_at, litellm)] = parts;
        // The first section's value of a key, with its path.
        macro_rules! first {
            ($key:ident) => {
                router
                    .$key
                    .map(|v| (v, router_at.key(stringify!($key))))
                    .or_else(|| litellm.$key.map(|v| (v, litellm_at.key(stringify!($key)))))
            };
        }
        let mut r = Reliability::default();
        let mut named = Vec::new();
        if let Some((n, _)) = first!(num_retries) {
            r.num_retries = n.0;
        }
        if let Some((map, at)) = first!(retry_policy) {
            r.retry_policy = class_map(map, &at, "Retries")?;
        }
        if let Some((s, _)) = first!(retry_after) {
            r.retry_after = s.0;
        }
        if let Some((n, _)) = first!(allowed_fails) {
            r.allowed_fails = n.0;
        }
        if let Some((map, at)) = first!(allowed_fails_policy) {
            r.allowed_fails_policy = class_map(map, &at, "AllowedFails")?;
        }
        if let Some((s, _)) = first!(cooldown_time) {
            r.cooldown_time = s.0;
        }
        if let Some((on, _)) = first!(disable_cooldowns) {
            r.disable_cooldowns = on;
        }
        for (target, found) in [
            (&mut r.fallbacks, first!(fallbacks)),
            (
                &mut r.context_window_fallbacks,
                first!(context_window_fallbacks),
            ),
            (
                &mut r.content_policy_fallbacks,
                first!(content_policy_fallbacks),
            ),
        ] {
            if let Some((rules, at)) = found {
                for rule in &rules.0 {
                    let at = at.join(&rule.at);
                    named.push((at.clone(), rule.group.clone()));
                    named.extend(rule.to.iter().map(|g| (at.clone(), g.clone())));
                }
                *target = rules.to_map();
            }
        }
        if let Some((groups, at)) = first!(default_fallbacks) {
            named.extend(
                groups
                    .iter()
                    .enumerate()
                    .map(|(i, g)| (at.index(i), g.clone())),
            );
            r.default_fallbacks = groups;
        }
        if let Some((n, _)) = first!(max_fallbacks) {
            r.max_fallbacks = n.0 as usize;
        }
        Ok((r, named))
    }
}

/// `{RateLimitErrorRetries: 3, ...}` into a class map; an unknown key is an
/// error naming the accepted ones.
fn class_map(
    map: BTreeMap<String, Count<u32>>,
    at: &KeyPath,
    suffix: &str,
) -> Result<ClassMap, ConfigError> {
    let mut out = ClassMap::default();
    for (key, n) in map {
        let class = FailureClass::ALL
            .into_iter()
            .find(|c| format!("{}{suffix}", c.litellm_name()) == key)
            .ok_or_else(|| {
                let accepted: Vec<String> = FailureClass::ALL
                    .iter()
                    .map(|c| format!("{}{suffix}", c.litellm_name()))
                    .collect();
                ConfigError::invalid(
                    at.key(&key),
                    format!("unknown error class; accepted: {}", accepted.join(", ")),
                )
            })?;
        out.set(class, n.0);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// The reliability policy of a config with these two sections (and
    /// model groups for every name the tests use).
    fn parse_yaml(router: &str, litellm: &str) -> Result<Reliability, String> {
        let indent = |s: &str| s.lines().map(|l| format!("  {l}\n")).collect::<String>();
        let groups: String = ["a", "b", "c", "z", "long", "other", "tier-3"]
            .iter()
            .map(|g| format!("  - model_name: {g}\n    litellm_params: {{model: openai/x}}\n"))
            .collect();
        let text = format!(
            "model_list:\n{groups}router_settings:\n{}litellm_settings:\n{}",
            indent(router),
            indent(litellm)
        );
        Config::parse(&text, std::path::Path::new("."))
            .map(|c| c.reliability)
            .map_err(|e| e.to_string())
    }
    #[test]
    fn litellm_keys_are_read_with_router_settings_first() {
        let r = parse_yaml(
            "num_retries: 4\nfallbacks: [{a: [b, c]}]\ncooldown_time: 30\nretry_policy: {RateLimitErrorRetries: 1}\nallowed_fails_policy: {TimeoutErrorAllowedFails: 7}\n",
            "num_retries: 9\ndefault_fallbacks: [z]\ncontext_window_fallbacks: [{a: [long]}]\nmax_fallbacks: 2\n",
        )
        .unwrap();
        assert_eq!(r.num_retries, 4);
        assert_eq!(r.cooldown_time, Duration::from_secs(30));
        assert_eq!(
            r.fallbacks_for("a", "a", FailureClass::Server, None),
            ["b", "c"]
        );
        assert_eq!(
            r.fallbacks_for("a", "a", FailureClass::ContextWindow, None),
            ["long"]
        );
        assert_eq!(
            r.fallbacks_for("other", "other", FailureClass::Server, None),
            ["z"]
        );
        // Looked up under the routed group, then the one asked for.
        assert_eq!(
            r.fallbacks_for("tier-3", "a", FailureClass::Server, None),
            ["b", "c"]
        );
        // The request's list replaces the generic one, not the specific one.
        let mine = ["mine".to_string()];
        assert_eq!(
            r.fallbacks_for("a", "a", FailureClass::Server, Some(&mine)),
            ["mine"]
        );
        assert_eq!(
            r.fallbacks_for("a", "a", FailureClass::ContextWindow, Some(&mine)),
            ["long"]
        );
        assert_eq!(r.max_fallbacks, 2);
        assert_eq!(r.retries_for(FailureClass::RateLimit, None), 1);
        assert_eq!(r.retries_for(FailureClass::Server, None), 4);
        assert_eq!(r.retries_for(FailureClass::Server, Some(0)), 0);
        assert_eq!(r.retries_for(FailureClass::BadRequest, Some(5)), 0);
        assert_eq!(
            r.retries_for(FailureClass::Server, Some(4_000_000_000)),
            MAX_REQUESTED_RETRIES
        );
        assert_eq!(r.allowed_fails_for(FailureClass::Timeout), 7);
        assert_eq!(r.allowed_fails_for(FailureClass::Server), 3);
        assert_eq!(r.allowed_fails_for(FailureClass::RateLimit), 0);
    }

    #[test]
    fn bad_values_are_named() {
        let e = parse_yaml("retry_policy: {TeapotErrorRetries: 1}", "{}").unwrap_err();
        assert!(
            e.contains("router_settings.retry_policy.TeapotErrorRetries")
                && e.contains("RateLimitErrorRetries"),
            "{e}"
        );
        let e = parse_yaml("fallbacks: [gpt-4o]", "{}").unwrap_err();
        assert!(e.contains("router_settings.fallbacks[0]"), "{e}");
        let e = parse_yaml("{}", "num_retries: many").unwrap_err();
        assert!(e.contains("litellm_settings.num_retries"), "{e}");
        let e = parse_yaml("cooldown_time: -1", "{}").unwrap_err();
        assert!(e.contains("router_settings.cooldown_time"), "{e}");
    }
}
