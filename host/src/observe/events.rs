//! The facts the request path reports. Borrowed: building one costs no
//! allocation; a sink that keeps something copies it.

use std::time::Duration;

use switchyard_store::SpendRecord;

/// A request was admitted: who asks, for which model group.
#[derive(Debug, Clone, Copy)]
pub struct Started<'a> {
    pub request_id: &'a str,
    pub model_group: &'a str,
    /// The key's alias (or the first 8 characters of its hash).
    pub key_alias: Option<&'a str>,
    pub team_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub end_user: Option<&'a str>,
}

/// A request ended. Everything its spend record says, and what a record
/// does not keep.
#[derive(Debug, Clone, Copy)]
pub struct Finished<'a> {
    pub record: &'a SpendRecord,
    /// Whether it was a stream.
    pub streamed: bool,
    /// A stream's time to its first token.
    pub ttft: Option<Duration>,
    /// Time spent waiting for providers (backoff included).
    pub upstream: Duration,
    /// `hit`, `miss` or `bypass`, when the cache was asked.
    pub cache: Option<&'static str>,
    /// The router's reason (the tier router's names the tier).
    pub route_reason: Option<&'a str>,
    /// The tier the tier router chose, when it did.
    pub tier: Option<&'a str>,
    /// The client's error message, when it failed.
    pub error: Option<&'a str>,
    /// Whether the gateway had counted this request as active (admitted
    /// with a model group): the active gauge goes down only then.
    pub was_active: bool,
}

/// One attempt on one deployment.
#[derive(Debug, Clone, Copy)]
pub struct Attempted<'a> {
    pub model_group: &'a str,
    pub deployment: &'a str,
    pub provider: &'a str,
    /// From sending the request to the answer (a stream: its first chunk).
    pub latency: Duration,
    /// The failure class (`rate_limit`, `timeout`, ...) when it failed.
    pub failure: Option<&'a str>,
    /// Whether another attempt came before it in the same call.
    pub retry: bool,
}

/// A call moved to another model group.
#[derive(Debug, Clone, Copy)]
pub struct Fallback<'a> {
    pub request_id: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    /// The failure class that moved it.
    pub reason: &'a str,
}

/// A deployment started cooling down.
#[derive(Debug, Clone, Copy)]
pub struct Cooled<'a> {
    pub model_group: &'a str,
    pub deployment: &'a str,
    pub provider: &'a str,
    pub seconds: f64,
    /// The failure class.
    pub class: &'a str,
    pub reason: &'a str,
}

/// Which kind of limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    RateLimit,
    Budget,
}

/// A request refused by a limit.
#[derive(Debug, Clone, Copy)]
pub struct Refused<'a> {
    pub kind: Refusal,
    pub request_id: &'a str,
    pub model_group: &'a str,
    /// What the limit is on: `key`, `team`, `user`, `end_user`, `model`,
    /// `tag`, `deployment`, `provider`, `global`, or a `limits:` rule's kind.
    pub scope: &'a str,
    /// The scope's name (an alias, a team id; never a raw key).
    pub name: &'a str,
    /// `rpm`, `tpm`, `max_parallel_requests` or `budget`.
    pub limit_type: &'a str,
    pub limit: f64,
    pub current: f64,
}

/// A plugin call ended.
#[derive(Debug, Clone, Copy)]
pub struct PluginCall<'a> {
    pub plugin: &'a str,
    /// `router`, `sanitizer`, `provider`, `cost`.
    pub kind: &'static str,
    pub duration: Duration,
    /// The failure kind when it failed (see [`PluginFailure::kind`]).
    pub failure: Option<&'static str>,
}

/// A plugin call failed.
#[derive(Debug, Clone, Copy)]
pub struct PluginFailure<'a> {
    pub plugin: &'a str,
    /// `trap`, `timeout`, `memory`, `bad_output` or `error` (the plugin's
    /// own error).
    pub kind: &'static str,
    pub message: &'a str,
}
