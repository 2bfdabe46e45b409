//! A request's own say over the cache: LiteLLM's `cache` object in the
//! body (`{"no-cache": true, "no-store": true, "ttl": 60, "s-maxage": 10,
//! "namespace": "x", "use-cache": true}`). The field is one of the
//! gateway's own ([`crate::gateway::own_fields`]): it never reaches a
//! provider.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::gateway::ApiError;

/// What the request asks of the cache.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Controls {
    /// `no-cache`: do not read (an answer is still stored).
    pub no_cache: bool,
    /// `no-store`: do not store the answer.
    pub no_store: bool,
    /// `ttl`: how long the stored answer lives.
    pub ttl: Option<Duration>,
    /// `s-maxage`: accept only an entry younger than this.
    pub s_maxage: Option<Duration>,
    /// `namespace`: in place of the configured one.
    pub namespace: Option<String>,
    /// `use-cache: true`: opts in under `mode: default_off`.
    pub use_cache: bool,
}

impl Controls {
    /// Reads the body's `cache` object; a wrong type is a 400 naming
    /// `cache.<field>`. Unknown fields are let through (LiteLLM ignores
    /// them too).
    pub fn read(body: &Map<String, Value>) -> Result<Controls, ApiError> {
        let mut c = Controls::default();
        let fields = match body.get("cache") {
            None | Some(Value::Null) => return Ok(c),
            Some(Value::Object(m)) => m,
            Some(other) => {
                return Err(ApiError::bad_param(
                    "cache",
                    format!("cache must be an object such as {{\"no-cache\": true}}, got {other}"),
                ));
            }
        };
        for (name, v) in fields {
            let param = format!("cache.{name}");
            match name.as_str() {
                "no-cache" | "no_cache" => c.no_cache = flag(&param, v)?,
                "no-store" | "no_store" => c.no_store = flag(&param, v)?,
                "use-cache" | "use_cache" => c.use_cache = flag(&param, v)?,
                "ttl" => c.ttl = seconds(&param, v)?,
                "s-maxage" | "s_maxage" => c.s_maxage = seconds(&param, v)?,
                "namespace" => {
                    c.namespace = match v {
                        Value::Null => None,
                        Value::String(s) if switchyard_cache::key::valid_namespace(s) => {
                            Some(s.clone())
                        }
                        other => {
                            return Err(ApiError::bad_param(
                                &param,
                                format!(
                                    "{param} must be 1 to 64 characters of letters, digits, `_`, `.` and `-`, got {other}"
                                ),
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(c)
    }
}

fn flag(param: &str, v: &Value) -> Result<bool, ApiError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Null => Ok(false),
        other => Err(ApiError::bad_param(
            param,
            format!("{param} must be true or false, got {other}"),
        )),
    }
}

fn seconds(param: &str, v: &Value) -> Result<Option<Duration>, ApiError> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => match n.as_f64() {
            Some(s) if (0.0..=10.0 * 365.0 * 86400.0).contains(&s) => {
                Ok(Some(Duration::from_secs_f64(s)))
            }
            _ => Err(ApiError::bad_param(
                param,
                format!("{param} must be a number of seconds >= 0, got {n}"),
            )),
        },
        other => Err(ApiError::bad_param(
            param,
            format!("{param} must be a number of seconds, got {other}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Value) -> Result<Controls, ApiError> {
        let Value::Object(m) = json!({"model": "m", "cache": v}) else {
            unreachable!()
        };
        Controls::read(&m)
    }

    #[test]
    fn every_control_is_read() {
        assert_eq!(
            read(
                json!({"no-cache": true, "no-store": true, "ttl": 60, "s-maxage": 2.5,
                        "namespace": "team-a", "use-cache": true})
            )
            .unwrap(),
            Controls {
                no_cache: true,
                no_store: true,
                ttl: Some(Duration::from_secs(60)),
                s_maxage: Some(Duration::from_millis(2500)),
                namespace: Some("team-a".into()),
                use_cache: true,
            }
        );
        assert_eq!(read(json!(null)).unwrap(), Controls::default());
        assert_eq!(read(json!({"other": 1})).unwrap(), Controls::default());
    }

    #[test]
    fn a_wrong_type_names_the_control() {
        for (v, param) in [
            (json!({"ttl": "60"}), "cache.ttl"),
            (json!({"ttl": -1}), "cache.ttl"),
            (json!({"s-maxage": []}), "cache.s-maxage"),
            (json!({"no-cache": "yes"}), "cache.no-cache"),
            (json!({"namespace": "a:b"}), "cache.namespace"),
            (json!(true), "cache"),
        ] {
            let e = read(v).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param));
            assert_eq!(e.status.as_u16(), 400);
        }
    }
}
