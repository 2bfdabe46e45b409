//! Keeping credentials out of the model admin answers, LiteLLM's way but
//! stricter: the parameters LiteLLM pops (`api_key` and the cloud
//! credentials) are left out, and any other value under a name that reads
//! as a secret is replaced whole, never partly shown.

use serde_json::{Map, Value};

/// What a masked value reads as.
pub const MASK: &str = "********";

/// Left out of `litellm_params` altogether, as LiteLLM's
/// `remove_sensitive_info_from_deployment` does.
const DROPPED: [&str; 6] = [
    "api_key",
    "client_secret",
    "vertex_credentials",
    "vertex_ai_credentials",
    "aws_access_key_id",
    "aws_secret_access_key",
];

/// Name segments that mark a secret (LiteLLM's `SensitiveDataMasker`).
const SENSITIVE: [&str; 16] = [
    "password",
    "passwords",
    "secret",
    "secrets",
    "key",
    "token",
    "auth",
    "authorization",
    "credential",
    "credentials",
    "access",
    "private",
    "certificate",
    "certificates",
    "fingerprint",
    "tenancy",
];

/// Whether a name reads as a secret: one of its `_`/`-` separated
/// segments is in [`SENSITIVE`], and none says `cost` (a price such as
/// `input_cost_per_token` is not a token).
pub fn is_sensitive(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let segments = || lower.split(['_', '-']);
    !segments().any(|s| s == "cost") && segments().any(|s| SENSITIVE.contains(&s))
}

/// `litellm_params` without credentials: [`DROPPED`] names removed at the
/// top, every sensitive name masked at any depth.
pub fn params(mut params: Map<String, Value>) -> Map<String, Value> {
    for name in DROPPED {
        params.remove(name);
    }
    object(params)
}

/// Masks every value under a sensitive name, at any depth (booleans and
/// nulls stay: they hold no secret).
pub fn object(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .map(|(k, v)| {
            let v = match v {
                v @ (Value::Null | Value::Bool(_)) => v,
                _ if is_sensitive(&k) => Value::String(MASK.into()),
                v => value(v),
            };
            (k, v)
        })
        .collect()
}

fn value(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(object(map)),
        Value::Array(items) => Value::Array(items.into_iter().map(value).collect()),
        Value::String(s) => Value::String(url(&s)),
        v => v,
    }
}

/// A URL with its user info and the values of sensitive query parameters
/// masked (`?key=...` for some providers); anything else, and a URL with
/// nothing to mask, as written.
pub fn url(text: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(text) else {
        return text.to_string();
    };
    if !parsed.has_host() {
        return text.to_string();
    }
    let mut changed = false;
    if parsed.password().is_some() {
        changed |= parsed.set_password(Some(MASK)).is_ok();
    }
    if !parsed.username().is_empty() {
        changed |= parsed.set_username(MASK).is_ok();
    }
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if pairs.iter().any(|(k, _)| is_sensitive(k)) {
        let mut query = parsed.query_pairs_mut();
        query.clear();
        for (k, v) in &pairs {
            query.append_pair(k, if is_sensitive(k) { MASK } else { v });
        }
        drop(query);
        changed = true;
    }
    if changed {
        parsed.to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn credentials_are_dropped_or_masked_at_any_depth() {
        let masked = params(map(json!({
            "model": "openai/gpt-4o",
            "api_key": "sk-secret",
            "aws_secret_access_key": "aws-secret",
            "aws_region_name": "eu-west-1",
            "azure_ad_token": "tok",
            "input_cost_per_token": 0.5,
            "max_tokens": 100,
            "use_auth": true,
            "extra_headers": {"Authorization": "Bearer sk-x", "X-Trace": "on"},
            "list": [{"password": "p"}, "plain"],
            "api_base": "https://u:pw@host.example/v1?key=k1&region=eu",
        })));
        assert_eq!(
            Value::Object(masked),
            json!({
                "model": "openai/gpt-4o",
                "aws_region_name": "eu-west-1",
                "azure_ad_token": MASK,
                "input_cost_per_token": 0.5,
                "max_tokens": 100,
                "use_auth": true,
                "extra_headers": {"Authorization": MASK, "X-Trace": "on"},
                "list": [{"password": MASK}, "plain"],
                "api_base": "https://********:********@host.example/v1?key=********&region=eu",
            })
        );
    }

    #[test]
    fn a_url_with_nothing_to_mask_is_kept_as_written() {
        assert_eq!(url("http://127.0.0.1:9000"), "http://127.0.0.1:9000");
        assert_eq!(url("not a url"), "not a url");
        assert_eq!(
            url("https://h/v1?api-version=1"),
            "https://h/v1?api-version=1"
        );
    }
}
