//! Typed reads that survive real files' quirks.
//!
//! Real LiteLLM files are read by Python, which forgives a lot: `rpm: "100"`,
//! `api_key: 12345`, `enable_tag_filtering: "yes"`, `api_base: [https://x]`.
//! A section is read into its serde type; where the read stumbles,
//! `serde_path_to_error` names the path, the value there is replaced by its
//! one sensible reading and the read runs again. Each mend gives one
//! warning naming the path, what was found and what was used. A value with
//! no sensible reading is an error naming its path.
//!
//! The readings, tried in order until the read gets past the path:
//! - a string: the number it spells, the boolean it spells (`true`,
//!   `yes`, `on`, ... as PyYAML reads them), or a list of that one string;
//! - a number: its decimal string, or for 0 and 1 a boolean;
//! - a list of one item: the item;
//! - `null` (in a mapping): no value, as if the key were absent. This is
//!   LiteLLM's meaning of `null` for every optional key, so it is not
//!   warned about.
//!
//! A string that came from the environment is expected to need a reading
//! (every variable is a string), so that one is not warned about either.

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde_yaml::{Number, Value};

use super::error::{ConfigError, KeyPath};
use super::notes::Notes;
use super::values::show;

/// Reads `value` (found at `at`) as a `T`, mending quirks in place.
pub fn read<T: DeserializeOwned>(
    value: &mut Value,
    at: &KeyPath,
    notes: &mut Notes,
) -> Result<T, ConfigError> {
    let mut mended = BTreeSet::new();
    loop {
        let (rel, message) = match attempt::<T>(value) {
            Ok(t) => return Ok(t),
            Err(e) => e,
        };
        let fail = |rel: &KeyPath| ConfigError::invalid(notes.written(&at.join(rel)), &message);
        let Some(rel) = rel else {
            return Err(fail(&KeyPath::root()));
        };
        // A path mended once and failing again has no better reading.
        if !mended.insert(rel.clone()) {
            return Err(fail(&rel));
        }
        let Some(found) = rel.get(value).cloned() else {
            return Err(fail(&rel));
        };
        let fixed = readings(&found).into_iter().find_map(|reading| {
            let mut trial = value.clone();
            match &reading {
                Reading::Is(v) => *rel.get_mut(&mut trial)? = v.clone(),
                Reading::Absent => {
                    rel.remove(&mut trial)?;
                }
            }
            match attempt::<T>(&trial) {
                Err((Some(p), _)) if p == rel => None,
                _ => Some((trial, reading)),
            }
        });
        let Some((trial, reading)) = fixed else {
            return Err(fail(&rel));
        };
        *value = trial;
        let full = at.join(&rel);
        if let Reading::Is(used) = reading
            && !notes.is_from_env(&full)
        {
            let written = notes.written(&full);
            let secret = is_secret(&written);
            notes.warn(format!(
                "{written}: {} is read as {}",
                describe(&found, secret),
                describe(&used, secret)
            ));
        }
    }
}

/// One typed read; on failure, where (if it can be followed) and why.
fn attempt<T: DeserializeOwned>(value: &Value) -> Result<T, (Option<KeyPath>, String)> {
    serde_path_to_error::deserialize(value.clone())
        .map_err(|e| (KeyPath::from_serde(e.path()), e.inner().to_string()))
}

enum Reading {
    Is(Value),
    Absent,
}

/// Every sensible reading of `found`, most likely first.
fn readings(found: &Value) -> Vec<Reading> {
    match found {
        Value::Null => vec![Reading::Absent],
        Value::String(s) => {
            let t = s.trim();
            number(t)
                .map(Value::Number)
                .into_iter()
                .chain(boolean(t).map(Value::Bool))
                .chain([Value::Sequence(vec![found.clone()])])
                .map(Reading::Is)
                .collect()
        }
        Value::Number(n) => {
            let flag = match n.as_u64() {
                Some(0) => Some(false),
                Some(1) => Some(true),
                _ => None,
            };
            [Value::String(n.to_string())]
                .into_iter()
                .chain(flag.map(Value::Bool))
                .map(Reading::Is)
                .collect()
        }
        Value::Sequence(items) if items.len() == 1 => vec![Reading::Is(items[0].clone())],
        _ => Vec::new(),
    }
}

/// The number a string spells (`"100"`, `"0.5"`, `"1e3"`).
fn number(s: &str) -> Option<Number> {
    if let Ok(n) = s.parse::<u64>() {
        return Some(n.into());
    }
    if let Ok(n) = s.parse::<i64>() {
        return Some(n.into());
    }
    s.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Number::from)
}

/// The boolean a string spells, as YAML 1.1 (PyYAML, hence LiteLLM) reads it.
fn boolean(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Some(true),
        "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Whether the key holds a secret, whose value must not be shown.
fn is_secret(path: &KeyPath) -> bool {
    let key = path.last_key().unwrap_or_default().to_ascii_lowercase();
    key.ends_with("key")
        || key.ends_with("_token")
        || key.contains("password")
        || key.contains("secret")
}

fn describe(v: &Value, secret: bool) -> String {
    match (v, secret) {
        (Value::String(_), false) => format!("the string {}", show(v)),
        (Value::String(_), true) => "a string".into(),
        (Value::Number(n), false) => format!("the number {n}"),
        (Value::Number(_), true) => "a number".into(),
        (Value::Bool(b), _) => b.to_string(),
        (Value::Sequence(_), false) => format!("the list {}", show(v)),
        (Value::Sequence(_), true) => "a list".into(),
        _ => show(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct T {
        n: Option<u64>,
        b: Option<bool>,
        s: Option<String>,
        l: Option<Vec<String>>,
        api_key: Option<String>,
        #[serde(default)]
        d: Vec<String>,
    }

    fn read_yaml(yaml: &str) -> (Result<T, ConfigError>, Vec<String>) {
        let mut v: Value = serde_yaml::from_str(yaml).unwrap();
        let mut notes = Notes::default();
        let r = read::<T>(&mut v, &KeyPath::root().key("x"), &mut notes);
        (r, notes.warnings)
    }

    #[test]
    fn each_quirk_is_read_once_with_one_warning() {
        let (r, w) = read_yaml("{n: \" 100 \", b: \"Yes\", s: 3, l: one, api_key: 12345, d: null}");
        assert_eq!(
            r.unwrap(),
            T {
                n: Some(100),
                b: Some(true),
                s: Some("3".into()),
                l: Some(vec!["one".into()]),
                api_key: Some("12345".into()),
                d: vec![],
            }
        );
        assert_eq!(
            w,
            [
                "x.n: the string \" 100 \" is read as the number 100",
                "x.b: the string \"Yes\" is read as true",
                "x.s: the number 3 is read as the string \"3\"",
                "x.l: the string \"one\" is read as the list [\"one\"]",
                "x.api_key: a number is read as a string",
            ]
        );
        let (r, w) = read_yaml("{s: [https://x], b: 0}");
        let t = r.unwrap();
        assert_eq!((t.s.as_deref(), t.b), (Some("https://x"), Some(false)));
        assert_eq!(
            w,
            [
                "x.s: the list [\"https://x\"] is read as the string \"https://x\"",
                "x.b: the number 0 is read as false",
            ]
        );
    }

    #[test]
    fn a_value_with_no_reading_is_an_error_naming_its_path() {
        for (yaml, path) in [
            ("{n: lots}", "x.n"),
            ("{n: -1}", "x.n"),
            ("{b: 2}", "x.b"),
            ("{s: [a, b]}", "x.s"),
            ("{l: [a, {k: v}]}", "x.l[1]"),
            ("{s: {k: v}}", "x.s"),
        ] {
            let (r, _) = read_yaml(yaml);
            let e = r.unwrap_err();
            assert_eq!(
                e.path().map(|p| p.to_string()).as_deref(),
                Some(path),
                "{yaml}: {e}"
            );
        }
    }
}
