//! URLs and headers of Gemini calls.

use switchyard_sdk::adapter;
use switchyard_sdk::provider::{Header, Target};
use switchyard_sdk::types::PluginError;

use crate::config::{Config, DEFAULT_API_BASE};

/// The `api_base`: the deployment's, else the config's, else Google AI
/// Studio's. Trailing slashes are dropped.
pub fn api_base<'a>(target: &'a Target, config: &'a Config) -> &'a str {
    adapter::api_base(target, config.api_base.as_deref()).unwrap_or(DEFAULT_API_BASE)
}

/// The model's resource name: `models/{model}`, or the name as given when it
/// already names a collection (`models/...`, `tunedModels/...`).
pub fn resource(model: &str) -> Result<String, PluginError> {
    let model = model.trim().trim_start_matches('/');
    if model.is_empty() {
        return Err(PluginError::InvalidInput(
            "the deployment names no model".to_string(),
        ));
    }
    if model.contains(['?', '#', ' ']) {
        return Err(PluginError::InvalidInput(format!(
            "\"{model}\" is not a Gemini model name"
        )));
    }
    Ok(if model.contains('/') {
        model.to_string()
    } else {
        format!("models/{model}")
    })
}

/// `{api_base}/{resource}:{method}`.
pub fn url(target: &Target, config: &Config, method: &str) -> Result<String, PluginError> {
    Ok(format!(
        "{}/{}:{method}",
        api_base(target, config),
        resource(&target.model)?
    ))
}

/// `Content-Type`, the API key (`x-goog-api-key`) when one is set, and the
/// deployment's `extra_headers`.
pub fn headers(target: &Target) -> Result<Vec<Header>, PluginError> {
    let mut headers = vec![Header {
        name: "Content-Type".to_string(),
        value: "application/json".to_string(),
    }];
    if let Some(key) = target.api_key.as_deref().filter(|k| !k.is_empty()) {
        headers.push(Header {
            name: "x-goog-api-key".to_string(),
            value: key.to_string(),
        });
    }
    headers.extend(adapter::extra_headers(target)?);
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::target;
    use switchyard_sdk::types::Field;

    #[test]
    fn bases_and_resources() {
        let mut t = target("gemini-2.5-pro", None);
        let c = Config::default();
        assert_eq!(
            url(&t, &c, "generateContent").unwrap(),
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:generateContent"
        );
        let c = Config {
            api_base: Some("http://cfg/".into()),
        };
        assert_eq!(
            url(&t, &c, "x").unwrap(),
            "http://cfg/models/gemini-2.5-pro:x"
        );
        t.api_base = Some("http://dep/v1/".into());
        assert_eq!(
            url(&t, &c, "x").unwrap(),
            "http://dep/v1/models/gemini-2.5-pro:x"
        );
        assert_eq!(resource("models/gemini-pro").unwrap(), "models/gemini-pro");
        assert_eq!(resource("tunedModels/abc").unwrap(), "tunedModels/abc");
        assert!(resource("").is_err());
        assert!(resource("a?b").is_err());
    }

    #[test]
    fn header_set() {
        let mut t = target("m", Some("k"));
        t.params = vec![Field {
            key: "extra_headers".into(),
            value: r#"{"X-Trace":"1"}"#.into(),
        }];
        let h = headers(&t).unwrap();
        let names: Vec<_> = h.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["Content-Type", "x-goog-api-key", "X-Trace"]);
        t.params[0].value = r#"{"X":1}"#.into();
        assert!(headers(&t).is_err());
        assert_eq!(headers(&target("m", None)).unwrap().len(), 1);
    }
}
