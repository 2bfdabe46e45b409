//! The body of each event: `{"event_type", "timestamp", "data"}`, written
//! once on the request path and shared by every hook that wants it. The
//! bytes written here are the bytes signed and sent.

use serde::Serialize;

use super::super::events::{Cooled, Fallback, Finished, PluginFailure, Refused, Started};
use crate::config::webhooks::Event;

#[derive(Serialize)]
struct Envelope<'a, D> {
    event_type: &'static str,
    timestamp: &'a str,
    data: D,
}

/// The body of `event` at `timestamp` (RFC 3339) with `data`.
pub fn write<D: Serialize>(
    event: Event,
    timestamp: &str,
    data: D,
) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&Envelope {
        event_type: event.name(),
        timestamp,
        data,
    })
}

#[derive(Serialize)]
pub struct Start<'a> {
    request_id: &'a str,
    model: &'a str,
    key_alias: Option<&'a str>,
    user_id: Option<&'a str>,
    team_id: Option<&'a str>,
    end_user: Option<&'a str>,
}

impl<'a> From<&Started<'a>> for Start<'a> {
    fn from(e: &Started<'a>) -> Start<'a> {
        Start {
            request_id: e.request_id,
            model: e.model_group,
            key_alias: e.key_alias,
            user_id: e.user_id,
            team_id: e.team_id,
            end_user: e.end_user,
        }
    }
}

#[derive(Serialize)]
struct Usage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
}

/// `request_end`, and `request_error` (which adds `error` and
/// `error_code`, null when unknown).
#[derive(Serialize)]
pub struct End<'a> {
    request_id: &'a str,
    model: Option<&'a str>,
    deployment: Option<&'a str>,
    provider: Option<&'a str>,
    key_alias: Option<&'a str>,
    user_id: Option<&'a str>,
    team_id: Option<&'a str>,
    end_user: Option<&'a str>,
    status_code: u16,
    usage: Usage,
    cost: Option<f64>,
    response_time_ms: f64,
    cache_hit: bool,
    attempts: u32,
    fallbacks: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<Option<&'a str>>,
}

impl<'a> End<'a> {
    /// The event a finished request is: an answer the client could use
    /// (2xx, 3xx) ends it; anything else (a refusal, a failure, a client
    /// gone before its answer, a stream broken after its 200) is an error.
    pub fn event(e: &Finished<'_>) -> Event {
        if (200..400).contains(&e.record.status) && e.record.error_kind.is_none() {
            Event::RequestEnd
        } else {
            Event::RequestError
        }
    }

    pub fn new(e: &Finished<'a>, event: Event) -> End<'a> {
        let r = e.record;
        let failed = event == Event::RequestError;
        End {
            request_id: &r.request_id,
            model: r.model_group.as_deref(),
            deployment: r.deployment.as_deref(),
            provider: r.provider.as_deref(),
            key_alias: r.key_alias.as_deref(),
            user_id: r.user_id.as_deref(),
            team_id: r.team_id.as_deref(),
            end_user: r.end_user.as_deref(),
            status_code: r.status,
            usage: Usage {
                prompt_tokens: r.input_tokens,
                completion_tokens: r.output_tokens,
                total_tokens: r.input_tokens + r.output_tokens,
            },
            cost: r.cost,
            response_time_ms: r.latency_ms,
            cache_hit: r.cache_hit,
            attempts: r.attempts,
            fallbacks: r.fallbacks,
            error: failed.then_some(e.error),
            error_code: failed.then_some(r.error_kind.as_deref()),
        }
    }
}

#[derive(Serialize)]
pub struct Fell<'a> {
    request_id: &'a str,
    original_model: &'a str,
    fallback_model: &'a str,
    reason: &'a str,
}

impl<'a> From<&Fallback<'a>> for Fell<'a> {
    fn from(e: &Fallback<'a>) -> Fell<'a> {
        Fell {
            request_id: e.request_id,
            original_model: e.from,
            fallback_model: e.to,
            reason: e.reason,
        }
    }
}

/// `rate_limit_hit` and `budget_exceeded`.
#[derive(Serialize)]
pub struct Limit<'a> {
    request_id: &'a str,
    model: &'a str,
    /// What the limit is on, and its name: `key my-alias`, `team t1`.
    reason: Reason<'a>,
    limit_type: &'a str,
    current_usage: f64,
    limit: f64,
}

impl<'a> From<&Refused<'a>> for Limit<'a> {
    fn from(e: &Refused<'a>) -> Limit<'a> {
        Limit {
            request_id: e.request_id,
            model: e.model_group,
            reason: Reason(e.scope, e.name),
            limit_type: e.limit_type,
            current_usage: e.current,
            limit: e.limit,
        }
    }
}

/// A scope and its name, written as one string without building it first.
struct Reason<'a>(&'a str, &'a str);

impl Serialize for Reason<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Reason(scope, "") => s.serialize_str(scope),
            Reason(scope, name) => s.collect_str(&format_args!("{scope} {name}")),
        }
    }
}

#[derive(Serialize)]
pub struct Cooldown<'a> {
    model: &'a str,
    deployment: &'a str,
    provider: &'a str,
    reason: &'a str,
    /// The failure class that cooled it.
    error_code: &'a str,
    cooldown_seconds: f64,
}

impl<'a> From<&Cooled<'a>> for Cooldown<'a> {
    fn from(e: &Cooled<'a>) -> Cooldown<'a> {
        Cooldown {
            model: e.model_group,
            deployment: e.deployment,
            provider: e.provider,
            reason: e.reason,
            error_code: e.class,
            cooldown_seconds: e.seconds,
        }
    }
}

#[derive(Serialize)]
pub struct PluginFailed<'a> {
    plugin: &'a str,
    error: &'a str,
    /// `trap`, `timeout`, `memory`, `bad_output` or `error`.
    error_code: &'a str,
}

impl<'a> From<&PluginFailure<'a>> for PluginFailed<'a> {
    fn from(e: &PluginFailure<'a>) -> PluginFailed<'a> {
        PluginFailed {
            plugin: e.plugin,
            error: e.message,
            error_code: e.kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use switchyard_store::SpendRecord;

    use super::*;

    fn parsed(bytes: Vec<u8>) -> Value {
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn a_finished_request_is_an_end_or_an_error_by_its_status() {
        let record = SpendRecord {
            request_id: "r1".into(),
            model_group: Some("gpt".into()),
            deployment: Some("gpt-0".into()),
            provider: Some("openai".into()),
            user_id: Some("u1".into()),
            status: 200,
            input_tokens: 11,
            output_tokens: 5,
            cost: Some(0.016),
            latency_ms: 12.5,
            attempts: 1,
            ..SpendRecord::default()
        };
        let finished = |record| Finished {
            record,
            streamed: false,
            ttft: None,
            upstream: std::time::Duration::ZERO,
            cache: None,
            route_reason: None,
            tier: None,
            error: Some("boom"),
            was_active: true,
        };
        let e = finished(&record);
        let event = End::event(&e);
        assert_eq!(event, Event::RequestEnd);
        let body = parsed(write(event, "2026-01-01T00:00:00Z", End::new(&e, event)).unwrap());
        assert_eq!(
            body,
            json!({"event_type": "request_end", "timestamp": "2026-01-01T00:00:00Z", "data": {
                "request_id": "r1", "model": "gpt", "deployment": "gpt-0", "provider": "openai",
                "key_alias": null, "user_id": "u1", "team_id": null, "end_user": null,
                "status_code": 200,
                "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16},
                "cost": 0.016, "response_time_ms": 12.5, "cache_hit": false,
                "attempts": 1, "fallbacks": 0,
            }})
        );
        let failed = SpendRecord {
            status: 429,
            error_kind: Some("rate_limit".into()),
            ..record.clone()
        };
        let e = finished(&failed);
        let event = End::event(&e);
        assert_eq!(event, Event::RequestError);
        let body = parsed(write(event, "t", End::new(&e, event)).unwrap());
        assert_eq!(body["event_type"], "request_error");
        assert_eq!(body["data"]["error"], "boom");
        assert_eq!(body["data"]["error_code"], "rate_limit");
        let broken = SpendRecord {
            error_kind: Some("stream_incomplete".into()),
            ..record.clone()
        };
        assert_eq!(End::event(&finished(&broken)), Event::RequestError);
        let gone = SpendRecord {
            status: 0,
            ..SpendRecord::default()
        };
        let e = Finished {
            error: None,
            ..finished(&gone)
        };
        assert_eq!(End::event(&e), Event::RequestError);
        let body =
            parsed(write(Event::RequestError, "t", End::new(&e, Event::RequestError)).unwrap());
        assert_eq!(body["data"]["error"], Value::Null);
        assert!(body["data"].as_object().unwrap().contains_key("error"));
    }

    #[test]
    fn a_refusal_names_its_scope_and_limit() {
        let e = Refused {
            kind: crate::observe::Refusal::Budget,
            request_id: "r2",
            model_group: "gpt",
            scope: "key",
            name: "k-budget",
            limit_type: "budget",
            limit: 0.02,
            current: 0.032,
        };
        let body = parsed(write(Event::BudgetExceeded, "t", Limit::from(&e)).unwrap());
        assert_eq!(
            body["data"],
            json!({"request_id": "r2", "model": "gpt", "reason": "key k-budget",
                   "limit_type": "budget", "current_usage": 0.032, "limit": 0.02})
        );
        let global = Refused {
            scope: "global",
            name: "",
            ..e
        };
        let body = parsed(write(Event::BudgetExceeded, "t", Limit::from(&global)).unwrap());
        assert_eq!(body["data"]["reason"], "global");
    }
}
