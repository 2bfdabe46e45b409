//! Building a provider's request from the deployment: where to send it, the
//! headers the deployment adds, and safe URL segments.
//!
//! ```
//! use switchyard_sdk::adapter::request::{api_base, percent_encode};
//! use switchyard_sdk::testing::target;
//! let t = target("azure", "gpt 4o");
//! let base = api_base(&t, Some("https://r.openai.azure.com/")).unwrap_or_default();
//! let url = format!("{base}/openai/deployments/{}/chat/completions", percent_encode(&t.model));
//! assert_eq!(url, "https://r.openai.azure.com/openai/deployments/gpt%204o/chat/completions");
//! ```

use serde_json::{Map, Value};

use crate::provider::{Header, Target};
use crate::types::PluginError;
/// A model or version name as one URL path segment or query value.
///
/// ```
/// use switchyard_sdk::adapter::percent_encode;
/// assert_eq!(percent_encode("gpt-4o"), "gpt-4o");
/// assert_eq!(percent_encode("my deployment/v2"), "my%20deployment%2Fv2");
/// ```
pub use crate::util::percent_encode;

/// The base URL to call: the deployment's `api_base` when it sets a non-blank
/// one, else `otherwise` (the adapter's configured or default base), trimmed
/// and without trailing slashes so the caller can append `/path`. `None`
/// when neither names a base.
///
/// ```
/// use switchyard_sdk::adapter::api_base;
/// use switchyard_sdk::testing::target;
/// let mut t = target("ollama", "llama3");
/// assert_eq!(api_base(&t, Some("http://localhost:11434/v1/")), Some("http://localhost:11434/v1"));
/// t.api_base = Some("http://gpu:11434/v1".into());
/// assert_eq!(api_base(&t, Some("http://localhost:11434/v1")), Some("http://gpu:11434/v1"));
/// t.api_base = Some(" ".into());
/// assert_eq!(api_base(&t, None), None);
/// ```
pub fn api_base<'a>(target: &'a Target, otherwise: Option<&'a str>) -> Option<&'a str> {
    target
        .api_base
        .as_deref()
        .filter(|b| !b.trim().is_empty())
        .or(otherwise)
        .map(|b| b.trim().trim_end_matches('/'))
}

/// Checks an adapter config's `api_base`: a blank one is a mistake in the
/// gateway's YAML, not a request for the default, so `init` refuses it.
///
/// ```
/// use switchyard_sdk::adapter::check_api_base;
/// assert!(check_api_base(None).is_ok());
/// assert!(check_api_base(Some("https://api.anthropic.com")).is_ok());
/// assert!(check_api_base(Some("  ")).is_err());
/// ```
pub fn check_api_base(api_base: Option<&str>) -> Result<(), PluginError> {
    if api_base.is_some_and(|b| b.trim().is_empty()) {
        return Err(PluginError::InvalidConfig(
            "api_base must not be empty".to_string(),
        ));
    }
    Ok(())
}

/// The headers a deployment adds with `litellm_params.extra_headers` (an
/// object of strings, as in LiteLLM), one header per entry. Anything else
/// is the deployment's mistake and fails the request with a message naming
/// the bad entry, rather than sending a request the operator did not ask for.
///
/// ```
/// use switchyard_sdk::adapter::extra_headers;
/// use switchyard_sdk::testing::target;
/// use switchyard_sdk::types::Field;
///
/// let mut t = target("anthropic", "claude");
/// t.params = vec![Field { key: "extra_headers".into(), value: r#"{"anthropic-beta":"x"}"#.into() }];
/// let headers = extra_headers(&t).unwrap();
/// assert_eq!((headers[0].name.as_str(), headers[0].value.as_str()), ("anthropic-beta", "x"));
/// ```
pub fn extra_headers(target: &Target) -> Result<Vec<Header>, PluginError> {
    let Some(f) = target.params.iter().find(|f| f.key == "extra_headers") else {
        return Ok(Vec::new());
    };
    let map: Map<String, Value> = serde_json::from_str(&f.value).map_err(|e| {
        PluginError::InvalidInput(format!("extra_headers must be an object of strings: {e}"))
    })?;
    map.into_iter()
        .map(|(name, value)| match value {
            Value::String(value) => Ok(Header { name, value }),
            _ => Err(PluginError::InvalidInput(format!(
                "extra_headers.{name} must be a string"
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::target;
    use crate::types::Field;

    fn with_params(value: &str) -> Target {
        let mut t = target("openai", "m");
        t.params = vec![Field {
            key: "extra_headers".into(),
            value: value.into(),
        }];
        t
    }

    #[test]
    fn api_base_prefers_a_non_blank_deployment_base() {
        let mut t = target("openai", "m");
        assert_eq!(api_base(&t, None), None);
        assert_eq!(
            api_base(&t, Some(" http://cfg/v1// ")),
            Some("http://cfg/v1")
        );
        t.api_base = Some("  ".into());
        assert_eq!(api_base(&t, Some("http://cfg")), Some("http://cfg"));
        t.api_base = Some(" http://dep/v1/ ".into());
        assert_eq!(api_base(&t, Some("http://cfg")), Some("http://dep/v1"));
        assert_eq!(api_base(&t, None), Some("http://dep/v1"));
    }

    #[test]
    fn check_api_base_refuses_only_blank() {
        assert_eq!(check_api_base(None), Ok(()));
        assert_eq!(check_api_base(Some("http://x")), Ok(()));
        assert_eq!(
            check_api_base(Some(" ")),
            Err(PluginError::InvalidConfig(
                "api_base must not be empty".to_string()
            ))
        );
    }

    #[test]
    fn extra_headers_one_per_entry() {
        assert_eq!(extra_headers(&target("openai", "m")), Ok(vec![]));
        let h = extra_headers(&with_params(r#"{"X-A":"1","X-B":"2"}"#)).unwrap();
        let pairs: Vec<(&str, &str)> = h
            .iter()
            .map(|h| (h.name.as_str(), h.value.as_str()))
            .collect();
        assert_eq!(pairs, [("X-A", "1"), ("X-B", "2")]);
    }

    #[test]
    fn extra_headers_refuses_what_is_not_an_object_of_strings() {
        assert_eq!(
            extra_headers(&with_params(r#"{"X":1}"#)),
            Err(PluginError::InvalidInput(
                "extra_headers.X must be a string".to_string()
            ))
        );
        let Err(PluginError::InvalidInput(m)) = extra_headers(&with_params(r#"["X"]"#)) else {
            panic!("a list is refused");
        };
        assert!(
            m.starts_with("extra_headers must be an object of strings: "),
            "{m}"
        );
    }

    #[test]
    fn percent_encode_keeps_only_unreserved() {
        assert_eq!(percent_encode("gpt-4o_mini.v1~x"), "gpt-4o_mini.v1~x");
        assert_eq!(percent_encode("a/b c?d"), "a%2Fb%20c%3Fd");
        assert_eq!(percent_encode("é"), "%C3%A9");
        assert_eq!(percent_encode(""), "");
    }
}
