//! What `GET /admin/config` shows of the config file: which file, when it
//! was loaded, its SHA-256, the generation, the last reload attempt and its
//! error, the changes that wait for a restart, and the running file itself
//! with its secrets masked (`os.environ/` references shown as written).

use std::sync::Mutex;
use std::time::SystemTime;

use serde::Serialize;
use serde_json::Value;

/// What set a reload off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The file changed on disk.
    File,
    /// SIGHUP.
    Sighup,
}

/// How a reload attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The new config serves.
    Ok,
    /// The file is the running one byte for byte, or the one the last
    /// attempt tried: nothing to do (not recorded as an attempt).
    Unchanged,
    /// The file failed to load or check; the running config stays.
    Error,
}

/// The last reload attempt.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// RFC 3339.
    pub at: String,
    pub trigger: Trigger,
    pub outcome: Outcome,
    /// Why it failed, naming the problem.
    pub error: Option<String>,
    /// The SHA-256 of the file that was tried.
    pub sha256: Option<String>,
}

/// The body of `GET /admin/config`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The config file; `None` when the gateway runs on the built-in
    /// default config.
    pub file: Option<String>,
    /// 1 for the config the gateway started with, one more per applied
    /// reload.
    pub generation: u64,
    /// RFC 3339 time the running config was loaded.
    pub loaded_at: String,
    /// SHA-256 of the running file's bytes.
    pub sha256: Option<String>,
    /// Whether changes to the file are picked up on their own (SIGHUP
    /// always works).
    pub watching: bool,
    pub reloads_ok: u64,
    pub reloads_failed: u64,
    pub last_attempt: Option<Attempt>,
    /// Keys changed in the file that only a restart applies; until then
    /// the gateway keeps their running values.
    pub pending_restart: Vec<String>,
    /// The running file as JSON, secrets masked.
    pub config: Value,
}

/// Shared by the reloader (which writes) and the admin route (which reads).
pub struct Status(Mutex<Report>);

impl Status {
    /// The status of the config the gateway starts with.
    pub fn new(file: Option<String>, watching: bool, text: Option<&str>) -> Status {
        Status(Mutex::new(Report {
            file,
            generation: 1,
            loaded_at: rfc3339(SystemTime::now()),
            sha256: text.map(|t| crate::plugins::runtime::sha256_hex(t.as_bytes())),
            watching,
            reloads_ok: 0,
            reloads_failed: 0,
            last_attempt: None,
            pending_restart: Vec::new(),
            config: text.map(masked).unwrap_or(Value::Null),
        }))
    }

    /// What the admin route shows now.
    pub fn report(&self) -> Report {
        self.lock().clone()
    }

    /// The SHA-256 of the running file.
    pub fn sha256(&self) -> Option<String> {
        self.lock().sha256.clone()
    }

    /// Whether the last attempt tried these bytes (a watcher may report
    /// one save several times; trying the same bytes again changes
    /// nothing, and would count a failure twice).
    pub fn last_tried(&self, sha: &str) -> bool {
        self.lock()
            .last_attempt
            .as_ref()
            .and_then(|a| a.sha256.as_deref())
            == Some(sha)
    }

    /// A new config serves; returns its generation.
    pub fn applied(&self, trigger: Trigger, text: &str, sha: String, pending: Vec<String>) -> u64 {
        let mut r = self.lock();
        r.generation += 1;
        r.loaded_at = rfc3339(SystemTime::now());
        r.sha256 = Some(sha.clone());
        r.reloads_ok += 1;
        r.pending_restart = pending;
        r.config = masked(text);
        r.last_attempt = Some(attempt(trigger, Outcome::Ok, None, Some(sha)));
        r.generation
    }

    /// A reload failed; returns the running generation.
    pub fn failed(&self, trigger: Trigger, error: String, sha: Option<String>) -> u64 {
        let mut r = self.lock();
        r.reloads_failed += 1;
        r.last_attempt = Some(attempt(trigger, Outcome::Error, Some(error), sha));
        r.generation
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Report> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn attempt(
    trigger: Trigger,
    outcome: Outcome,
    error: Option<String>,
    sha256: Option<String>,
) -> Attempt {
    Attempt {
        at: rfc3339(SystemTime::now()),
        trigger,
        outcome,
        error,
        sha256,
    }
}

fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The file's YAML as JSON with every secret masked: the value of a key
/// whose name says it holds a key, secret, token, password or credential
/// is `"***"` unless it is an `os.environ/` reference (shown as written,
/// never resolved), and a password inside any URL is `***`. Text that is
/// not YAML shows as `null` (it could not be the running file).
pub fn masked(text: &str) -> Value {
    let yaml: serde_yaml::Value = match serde_yaml::from_str(text) {
        Ok(v) => v,
        Err(_) => return Value::Null,
    };
    let mut json = serde_json::to_value(yaml).unwrap_or(Value::Null);
    mask(&mut json, false);
    json
}

fn mask(v: &mut Value, secret: bool) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                mask(child, secret || crate::plugins::output::is_secret_name(k));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| mask(i, secret)),
        Value::String(s) if s.starts_with("os.environ/") => {}
        Value::String(s) if secret => *s = "***".into(),
        Value::String(s) => {
            if let Some(m) = url_without_password(s) {
                *s = m;
            }
        }
        Value::Number(_) | Value::Bool(_) if secret => *v = Value::String("***".into()),
        _ => {}
    }
}

/// `scheme://user:***@host...` for a URL with a password.
fn url_without_password(s: &str) -> Option<String> {
    let (scheme, rest) = s.split_once("://")?;
    let (userinfo, host) = rest.split_once('@')?;
    if host.contains('@') || userinfo.contains('/') {
        return None;
    }
    let user = match userinfo.split_once(':') {
        Some((user, _)) => user,
        None => return None,
    };
    Some(format!("{scheme}://{user}:***@{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_masked_and_environment_references_shown_as_written() {
        let text = "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      api_key: sk-live-123\n      api_base: http://u:pw@h:1/v1\n  - model_name: b\n    litellm_params:\n      model: openai/y\n      api_key: os.environ/OPENAI_KEY\ngeneral_settings:\n  master_key: sk-master\n  database_url: postgres://app:hunter2@db/x\nrouter_settings:\n  redis_password: 12345\n  num_retries: 2\n";
        let v = masked(text);
        let list = &v["model_list"];
        assert_eq!(list[0]["litellm_params"]["api_key"], json!("***"));
        assert_eq!(
            list[0]["litellm_params"]["api_base"],
            json!("http://u:***@h:1/v1")
        );
        assert_eq!(
            list[1]["litellm_params"]["api_key"],
            json!("os.environ/OPENAI_KEY")
        );
        assert_eq!(v["general_settings"]["master_key"], json!("***"));
        assert_eq!(
            v["general_settings"]["database_url"],
            json!("postgres://app:***@db/x")
        );
        assert_eq!(v["router_settings"]["redis_password"], json!("***"));
        assert_eq!(v["router_settings"]["num_retries"], json!(2));
        let all = v.to_string();
        for s in ["sk-live-123", "sk-master", "hunter2", "12345", ":pw@"] {
            assert!(!all.contains(s), "{s} leaked: {all}");
        }
    }

    #[test]
    fn generation_counts_applied_reloads_only() {
        let s = Status::new(Some("c.yaml".into()), true, Some("a: 1\n"));
        assert_eq!(s.report().generation, 1);
        assert_eq!(s.failed(Trigger::File, "bad".into(), None), 1);
        assert_eq!(s.applied(Trigger::Sighup, "a: 2\n", "x".into(), vec![]), 2);
        assert!(s.last_tried("x") && !s.last_tried("y"));
        let r = s.report();
        assert_eq!((r.generation, r.reloads_ok, r.reloads_failed), (2, 1, 1));
        assert_eq!(r.last_attempt.map(|a| a.outcome), Some(Outcome::Ok));
        assert_eq!(r.config, json!({"a": 2}));
    }
}
