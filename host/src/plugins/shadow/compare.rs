//! Whether a candidate answered as the live plugin did, per kind, and the
//! two answers as JSON for `GET /admin/plugins/{name}/shadow`.
//!
//! What counts: a router's order and model group (not its reason); a
//! sanitiser's verdict (allow, deny, rewrite: not the deny's wording) and
//! its rewritten messages; an adapter's method, URL, headers (secret ones
//! by hash only) and body as parsed JSON; a cost rule's price, equal within
//! a relative 1e-9. Nothing secret is ever rendered: header values that
//! carry credentials show as a short hash, and every string passes through
//! the gateway's secret scrubber.

use std::sync::LazyLock;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::plugins::bindings::cost_api::CostAnswer;
use crate::plugins::bindings::provider_api::{Header, Outbound};
use crate::plugins::bindings::router_api::RouteDecision;
use crate::plugins::bindings::sanitizer_api::Verdict;
use crate::plugins::bindings::types::{ContentPart, Message, Role};
use crate::plugins::output::scrub;

/// Prices closer than this, relative to the larger, are equal.
pub const PRICE_TOLERANCE: f64 = 1e-9;

/// The kinds of disagreement one comparison found (empty: they agree).
pub type Kinds = Vec<&'static str>;

pub fn route(live: &RouteDecision, cand: &RouteDecision) -> Kinds {
    let mut k = Kinds::new();
    if live.order != cand.order {
        k.push("order");
    }
    if live.model_group != cand.model_group {
        k.push("model_group");
    }
    k
}

pub fn sanitize(live: &Verdict, cand: &Verdict) -> Kinds {
    match (live, cand) {
        (Verdict::Allow, Verdict::Allow) | (Verdict::Deny(_), Verdict::Deny(_)) => vec![],
        (Verdict::Rewrite(a), Verdict::Rewrite(b)) if a == b => vec![],
        (Verdict::Rewrite(_), Verdict::Rewrite(_)) => vec!["rewrite"],
        _ => vec!["verdict"],
    }
}

pub fn cost(live: &CostAnswer, cand: &CostAnswer) -> Kinds {
    match (live, cand) {
        (CostAnswer::NoOpinion, CostAnswer::NoOpinion) => vec![],
        (CostAnswer::Usd(a), CostAnswer::Usd(b)) if prices_equal(*a, *b) => vec![],
        _ => vec!["price"],
    }
}

pub fn build(live: &Outbound, cand: &Outbound) -> Kinds {
    match (live, cand) {
        (Outbound::Send(a), Outbound::Send(b)) => {
            let mut k = Kinds::new();
            if a.method != b.method {
                k.push("method");
            }
            if a.url != b.url {
                k.push("url");
            }
            if header_set(&a.headers) != header_set(&b.headers) {
                k.push("headers");
            }
            if json_of(&a.body) != json_of(&b.body) {
                k.push("body");
            }
            k
        }
        (Outbound::Respond(a), Outbound::Respond(b)) => {
            let mut k = Kinds::new();
            if a.status != b.status || header_set(&a.headers) != header_set(&b.headers) {
                k.push("response");
            }
            if json_of(&a.body) != json_of(&b.body) {
                k.push("body");
            }
            k
        }
        _ => vec!["outbound"],
    }
}

/// Equal within [`PRICE_TOLERANCE`] relative to the larger.
pub fn prices_equal(a: f64, b: f64) -> bool {
    if a == b {
        return true;
    }
    (a - b).abs() <= PRICE_TOLERANCE * a.abs().max(b.abs())
}

/// Headers by lower-case name, in order, secret values replaced by their
/// hash: what is compared and what is shown are the same.
fn header_set(headers: &[Header]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = headers
        .iter()
        .map(|h| {
            let name = h.name.to_ascii_lowercase();
            let value = if is_secret_header(&name) {
                hashed(&h.value)
            } else {
                scrub(&h.value).into_owned()
            };
            (name, value)
        })
        .collect();
    v.sort();
    v
}

/// A header that carries a credential: `authorization`, `api-key`,
/// `x-api-key`, cookies, and anything named like a key, token or secret.
pub fn is_secret_header(lower_name: &str) -> bool {
    matches!(
        lower_name,
        "authorization" | "proxy-authorization" | "api-key" | "x-api-key" | "cookie"
    ) || ["key", "token", "secret", "auth", "password", "credential"]
        .iter()
        .any(|w| lower_name.contains(w))
}

/// The key [`hashed`] uses: random per process, so a short value (a tax
/// number, a PIN) cannot be found by hashing every candidate offline.
static HASH_KEY: LazyLock<[u8; 32]> = LazyLock::new(|| {
    let mut key = [0u8; 32];
    crate::identity::secret::fill_random(&mut key, "the shadow hash key");
    key
});

/// `hmac-sha256:` and the first 12 hex digits of a keyed hash: enough to
/// tell two values apart within this process, nothing to recover one from
/// (the key never leaves the process; a restart changes every hash).
pub fn hashed(value: &str) -> String {
    // HMAC takes a key of any length: the error arm is never taken.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(HASH_KEY.as_slice()) else {
        return "hmac-sha256:?".to_string();
    };
    mac.update(value.as_bytes());
    let h = hex::encode(mac.finalize().into_bytes());
    format!("hmac-sha256:{}", h.get(..12).unwrap_or(&h))
}

/// A body as parsed JSON (a body that is not JSON compares as its text).
fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// A JSON value with every string scrubbed of the gateway's secrets.
pub fn scrub_json(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(scrub(&s).into_owned()),
        Value::Array(a) => Value::Array(a.into_iter().map(scrub_json).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    if is_secret_header(&k.to_ascii_lowercase())
                        && let Value::String(s) = &v
                    {
                        let h = hashed(s);
                        (k, Value::String(h))
                    } else {
                        (k, scrub_json(v))
                    }
                })
                .collect(),
        ),
        other => other,
    }
}

/// A URL with secret query parameters (`key=`, `token=`, ...) hashed.
pub fn safe_url(url: &str) -> String {
    let url = scrub(url);
    let Some((base, query)) = url.split_once('?') else {
        return url.into_owned();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, v)) if is_secret_header(&k.to_ascii_lowercase()) => {
                format!("{k}={}", hashed(v))
            }
            _ => p.to_string(),
        })
        .collect();
    format!("{base}?{}", params.join("&"))
}

pub fn route_json(d: &RouteDecision) -> Value {
    json!({"order": d.order, "model_group": d.model_group, "reason": d.reason.as_deref().map(scrub)})
}

/// A verdict; a rewrite shows each message's role, length and hash, never
/// its text (the text is what a sanitiser exists to keep out).
pub fn verdict_json(v: &Verdict) -> Value {
    match v {
        Verdict::Allow => json!("allow"),
        Verdict::Deny(reason) => json!({"deny": scrub(reason)}),
        Verdict::Rewrite(messages) => json!({"rewrite": messages.iter().map(|m| {
            let text = text_of(m);
            json!({"role": role_name(&m.role), "chars": text.chars().count(), "text": hashed(&text)})
        }).collect::<Vec<_>>()}),
    }
}

pub fn cost_json(c: &CostAnswer) -> Value {
    match c {
        CostAnswer::Usd(usd) => json!({"usd": usd}),
        CostAnswer::NoOpinion => json!("no_opinion"),
    }
}

pub fn outbound_json(o: &Outbound) -> Value {
    let headers = |hs: &[Header]| -> Value {
        Value::Array(
            header_set(hs)
                .into_iter()
                .map(|(n, v)| json!([n, v]))
                .collect(),
        )
    };
    match o {
        Outbound::Send(r) => json!({
            "method": r.method,
            "url": safe_url(&r.url),
            "headers": headers(&r.headers),
            "body": scrub_json(json_of(&r.body)),
        }),
        Outbound::Respond(r) => json!({
            "respond": r.status,
            "headers": headers(&r.headers),
            "body": scrub_json(json_of(&r.body)),
        }),
    }
}

/// A message's text parts, joined.
pub fn text_of(m: &Message) -> String {
    m.content
        .iter()
        .filter_map(|p| match p {
            ContentPart::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("")
}

pub fn role_name(r: &Role) -> String {
    match r {
        Role::System => "system".into(),
        Role::Developer => "developer".into(),
        Role::User => "user".into(),
        Role::Assistant => "assistant".into(),
        Role::Tool => "tool".into(),
        Role::Other(o) => o.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::bindings::provider_api::{Framing, HttpRequest};

    fn decision(order: &[u32], group: Option<&str>, reason: &str) -> RouteDecision {
        RouteDecision {
            order: order.to_vec(),
            model_group: group.map(str::to_string),
            reason: Some(reason.into()),
            extra: vec![],
        }
    }

    fn send(url: &str, headers: &[(&str, &str)], body: &str) -> Outbound {
        Outbound::Send(HttpRequest {
            method: "POST".into(),
            url: url.into(),
            headers: headers
                .iter()
                .map(|(n, v)| Header {
                    name: n.to_string(),
                    value: v.to_string(),
                })
                .collect(),
            body: body.as_bytes().to_vec(),
            framing: Framing::Sse,
        })
    }

    fn msg(text: &str) -> Message {
        Message {
            role: Role::User,
            content: vec![ContentPart::Text(text.into())],
            name: None,
            extra: vec![],
        }
    }

    #[test]
    fn a_router_disagrees_on_order_or_group_not_on_its_reason() {
        let live = decision(&[0, 1], None, "live");
        assert!(route(&live, &decision(&[0, 1], None, "other words")).is_empty());
        assert_eq!(route(&live, &decision(&[1, 0], None, "")), vec!["order"]);
        assert_eq!(
            route(&live, &decision(&[1, 0], Some("big"), "")),
            vec!["order", "model_group"]
        );
    }

    #[test]
    fn a_sanitiser_disagrees_on_its_verdict_or_its_rewrite() {
        let deny = |r: &str| Verdict::Deny(r.into());
        assert!(sanitize(&deny("a"), &deny("b")).is_empty());
        assert_eq!(sanitize(&Verdict::Allow, &deny("b")), vec!["verdict"]);
        let rw = |t: &str| Verdict::Rewrite(vec![msg(t)]);
        assert!(sanitize(&rw("[EMAIL_1]"), &rw("[EMAIL_1]")).is_empty());
        assert_eq!(sanitize(&rw("[EMAIL_1]"), &rw("a@b.c")), vec!["rewrite"]);
        assert_eq!(sanitize(&rw("x"), &Verdict::Allow), vec!["verdict"]);
    }

    #[test]
    fn a_rewrite_is_shown_by_hash_never_its_text() {
        let shown = verdict_json(&Verdict::Rewrite(vec![msg("my card 4111111111111111")]));
        let text = shown.to_string();
        assert!(!text.contains("4111"), "{text}");
        assert!(text.contains("hmac-sha256:"), "{text}");
        assert_eq!(shown["rewrite"][0]["chars"], 24);
    }

    #[test]
    fn a_hash_is_keyed_so_a_short_value_cannot_be_looked_up() {
        let cpf = "123.456.789-09";
        let shown = hashed(cpf);
        assert_eq!(shown, hashed(cpf), "stable within the process");
        assert_ne!(shown, hashed("123.456.789-10"));
        let digits = shown.strip_prefix("hmac-sha256:").unwrap();
        assert_eq!(digits.len(), 12);
        let plain = crate::plugins::runtime::sha256_hex(cpf.as_bytes());
        assert_ne!(digits, &plain[..12], "not the unkeyed SHA-256 prefix");
    }

    #[test]
    fn prices_are_equal_within_a_relative_billionth() {
        assert!(cost(&CostAnswer::Usd(1.0), &CostAnswer::Usd(1.0 + 1e-12)).is_empty());
        assert!(cost(&CostAnswer::Usd(0.0), &CostAnswer::Usd(0.0)).is_empty());
        assert_eq!(
            cost(&CostAnswer::Usd(1.0), &CostAnswer::Usd(1.000001)),
            vec!["price"]
        );
        assert_eq!(
            cost(&CostAnswer::Usd(1.0), &CostAnswer::NoOpinion),
            vec!["price"]
        );
    }

    #[test]
    fn an_adapter_request_is_compared_by_parts_with_the_body_as_json() {
        let a = send(
            "https://x/v1/chat",
            &[("Authorization", "Bearer sk-1"), ("X-A", "1")],
            r#"{"a":1,"b":2}"#,
        );
        let same = send(
            "https://x/v1/chat",
            &[("x-a", "1"), ("authorization", "Bearer sk-1")],
            r#"{ "b": 2, "a": 1 }"#,
        );
        assert!(build(&a, &same).is_empty());
        let other = send(
            "https://y/v1/chat",
            &[("Authorization", "Bearer sk-2"), ("X-A", "1")],
            r#"{"a":1,"b":3}"#,
        );
        assert_eq!(build(&a, &other), vec!["url", "headers", "body"]);
    }

    #[test]
    fn secret_headers_and_query_keys_are_never_shown() {
        let o = send(
            "https://g/v1/models/x:generate?key=AIzaSECRET&alt=sse",
            &[
                ("Authorization", "Bearer sk-live-123"),
                ("x-api-key", "anthropic-secret"),
                ("x-goog-api-key", "g-secret"),
                ("anthropic-version", "2023-06-01"),
            ],
            r#"{"api_key":"inbody-secret","x":1}"#,
        );
        let text = outbound_json(&o).to_string();
        for s in [
            "sk-live-123",
            "anthropic-secret",
            "g-secret",
            "AIzaSECRET",
            "inbody-secret",
        ] {
            assert!(!text.contains(s), "{s} shown in {text}");
        }
        assert!(text.contains("2023-06-01"), "{text}");
        assert!(text.contains("alt=sse"), "{text}");
    }
}
