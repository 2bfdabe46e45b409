//! Environment references in string values, from the process environment
//! or the file's own `environment_variables` section (the process wins; the
//! caller composes the two into one lookup):
//!
//! - `os.environ/NAME`, LiteLLM's spelling: the whole value is the
//!   variable's.
//! - `${NAME}` anywhere in a string (`https://${HOST}:${PORT}/v1`), as
//!   users write in Docker and Kubernetes files; `${NAME:-default}` gives
//!   the default when `NAME` is unset or empty. The default is taken as
//!   written (no references inside it), and a value read from a variable is
//!   not expanded again. `$${` is a literal `${`.
//!
//! A missing variable (with no default) is an error naming it and where it
//! was used, unless the key is one Switchyard does not read (its value
//! never matters: `database_url: os.environ/DATABASE_URL` must not stop a
//! gateway that keeps no database). A `${` with no closing `}` or no valid name is an error too:
//! it is far likelier a typo than a literal.

use std::collections::BTreeSet;

use serde_yaml::Value;

use super::error::{ConfigError, KeyPath};
use super::notes::Notes;

const PREFIX: &str = "os.environ/";

/// A variable's value, if it is set.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Replaces every reference in the string values of `value`, but for the
/// keys in `skip`. Paths are named as the file wrote them.
pub(crate) fn expand(
    value: &mut Value,
    vars: Lookup,
    skip: &BTreeSet<KeyPath>,
    notes: &mut Notes,
) -> Result<(), ConfigError> {
    Walk { vars, skip, notes }.walk(value, &KeyPath::root())
}

struct Walk<'a, 'b> {
    vars: Lookup<'a>,
    skip: &'a BTreeSet<KeyPath>,
    notes: &'b mut Notes,
}

impl Walk<'_, '_> {
    fn walk(&mut self, value: &mut Value, path: &KeyPath) -> Result<(), ConfigError> {
        if self.skip.contains(path) {
            return Ok(());
        }
        match value {
            Value::String(s) if *path == falls_back() => {
                // A file shared with a LiteLLM deployment names its
                // database by a variable this host may not set: the
                // default database serves rather than no gateway at all.
                let written = self.notes.written(path);
                match expand_str(s, &written, self.vars) {
                    Ok(Some(expanded)) => {
                        *s = expanded;
                        self.notes.env_value(written);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        self.notes.warn(format!(
                            "{e}; keys and spend go to the default SQLite file beside the config"
                        ));
                        *value = Value::Null;
                    }
                }
                Ok(())
            }
            Value::String(s) => {
                let written = self.notes.written(path);
                if let Some(expanded) = expand_str(s, &written, self.vars)? {
                    *s = expanded;
                    self.notes.env_value(written);
                }
                Ok(())
            }
            Value::Sequence(items) => items
                .iter_mut()
                .enumerate()
                .try_for_each(|(i, item)| self.walk(item, &path.index(i))),
            Value::Mapping(map) => map.iter_mut().try_for_each(|(k, v)| {
                let key = k
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| super::values::show(k));
                self.walk(v, &path.key(&key))
            }),
            Value::Tagged(t) => self.walk(&mut t.value, path),
            _ => Ok(()),
        }
    }
}

/// `s` with its references replaced, or `None` when it has none.
/// The one value whose missing variable falls back to a default.
fn falls_back() -> KeyPath {
    KeyPath::root().key("general_settings").key("database_url")
}

fn expand_str(s: &str, path: &KeyPath, vars: Lookup) -> Result<Option<String>, ConfigError> {
    if let Some(name) = s.strip_prefix(PREFIX) {
        let name = name.trim();
        return vars(name)
            .map(Some)
            .ok_or_else(|| unset(path, name, format!("{PREFIX}{name}")));
    }
    if !s.contains("${") {
        return Ok(None);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        if let Some(before) = rest[..start].strip_suffix('$') {
            // `$${`: a literal `${`.
            out.push_str(before);
            out.push_str("${");
            rest = &rest[start + 2..];
            continue;
        }
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| ConfigError::invalid(path.clone(), "`${` without a closing `}`"))?;
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        if !is_name(name) {
            return Err(ConfigError::invalid(
                path.clone(),
                format!("`${{{inner}}}`: {name:?} is not an environment variable name"),
            ));
        }
        let value = match (vars(name), default) {
            (Some(v), Some(d)) if v.is_empty() => d.to_string(),
            (Some(v), _) => v,
            (None, Some(d)) => d.to_string(),
            (None, None) => return Err(unset(path, name, format!("${{{inner}}}"))),
        };
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(Some(out))
}

fn unset(path: &KeyPath, name: &str, written: String) -> ConfigError {
    ConfigError::UnsetVariable {
        path: path.clone(),
        name: name.to_string(),
        written,
    }
}

/// A shell variable name: a letter or `_`, then letters, digits or `_`.
fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_yaml(yaml: &str, vars: &[(&str, &str)]) -> Result<(Value, Notes), ConfigError> {
        let mut v: Value = serde_yaml::from_str(yaml).unwrap();
        let mut notes = Notes::default();
        let lookup = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        expand(&mut v, &lookup, &BTreeSet::new(), &mut notes)?;
        Ok((v, notes))
    }

    #[test]
    fn references_resolve_and_missing_ones_are_named() {
        let yaml = "model_list:\n  - litellm_params: {api_key: os.environ/SWITCHYARD_TEST_KEY_X}\n";
        let err = expand_yaml(yaml, &[]).unwrap_err().to_string();
        assert!(err.contains("SWITCHYARD_TEST_KEY_X"), "{err}");
        assert!(
            err.contains("model_list[0].litellm_params.api_key"),
            "{err}"
        );
        let (v, notes) = expand_yaml(yaml, &[("SWITCHYARD_TEST_KEY_X", "sk-1")]).unwrap();
        assert_eq!(v["model_list"][0]["litellm_params"]["api_key"], "sk-1");
        let at = KeyPath::root()
            .key("model_list")
            .index(0)
            .key("litellm_params")
            .key("api_key");
        assert!(notes.is_from_env(&at));
    }

    #[test]
    fn braced_references_expand_anywhere_in_a_string_with_defaults() {
        let (v, _) = expand_yaml(
            "a: https://${SY_TEST_HOST}:${SY_TEST_PORT:-8080}/v1\nb: ${SY_TEST_EMPTY:-fallback}\nc: pa$$word $${SY_TEST_HOST} ${SY_TEST_HOST}\nd: ${SY_TEST_UNSET:-}\ne: os.environ/SY_TEST_HOST\nf: no references\n",
            &[("SY_TEST_HOST", "h.internal"), ("SY_TEST_EMPTY", "")],
        )
        .unwrap();
        assert_eq!(v["a"], "https://h.internal:8080/v1");
        assert_eq!(v["b"], "fallback");
        assert_eq!(v["c"], "pa$$word ${SY_TEST_HOST} h.internal");
        assert_eq!(v["d"], "");
        assert_eq!(v["e"], "h.internal");
        assert_eq!(v["f"], "no references");
    }

    #[test]
    fn a_missing_or_malformed_braced_reference_is_an_error_naming_its_path() {
        let err = expand_yaml(
            "router_settings: {redis_host: \"${SY_TEST_SURELY_UNSET}\"}",
            &[],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "router_settings.redis_host: environment variable SY_TEST_SURELY_UNSET is not set (referenced as ${SY_TEST_SURELY_UNSET})"
        );
        let err = expand_yaml("a: [\"${SY_TEST_HOST\"]", &[]).unwrap_err();
        assert_eq!(err.to_string(), "a[0]: `${` without a closing `}`");
        let err = expand_yaml("a: \"${1X}\"", &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a: `${1X}`: \"1X\" is not an environment variable name"
        );
    }
}
