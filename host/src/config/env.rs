//! `os.environ/NAME` references: replaced anywhere in the file by the
//! variable's value, from the process environment or the file's own
//! `environment_variables` section. A missing variable is an error naming it
//! and where it was used.

use std::collections::BTreeMap;

use serde_yaml::Value;

const PREFIX: &str = "os.environ/";

/// Replaces every `os.environ/NAME` string in `value`.
pub fn resolve(value: &mut Value, file_vars: &BTreeMap<String, String>) -> Result<(), String> {
    walk(value, "", file_vars)
}

fn walk(value: &mut Value, path: &str, vars: &BTreeMap<String, String>) -> Result<(), String> {
    match value {
        Value::String(s) => {
            if let Some(name) = s.strip_prefix(PREFIX) {
                let name = name.trim();
                let found = std::env::var(name).ok().or_else(|| vars.get(name).cloned());
                match found {
                    Some(v) => *s = v,
                    None => {
                        return Err(format!(
                            "{path}: environment variable {name} is not set (referenced as os.environ/{name})"
                        ));
                    }
                }
            }
            Ok(())
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, &format!("{path}[{i}]"), vars)?;
            }
            Ok(())
        }
        Value::Mapping(map) => {
            for (k, v) in map.iter_mut() {
                let key = k
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{k:?}"));
                let here = if path.is_empty() {
                    key
                } else {
                    format!("{path}.{key}")
                };
                walk(v, &here, vars)?;
            }
            Ok(())
        }
        Value::Tagged(t) => walk(&mut t.value, path, vars),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_from_file_vars_and_missing_ones_are_named() {
        let mut v: Value = serde_yaml::from_str(
            "model_list:\n  - litellm_params: {api_key: os.environ/SWITCHYARD_TEST_KEY_X}\n",
        )
        .unwrap();
        let mut vars = BTreeMap::new();
        let err = resolve(&mut v.clone(), &vars).unwrap_err();
        assert!(err.contains("SWITCHYARD_TEST_KEY_X"), "{err}");
        assert!(
            err.contains("model_list[0].litellm_params.api_key"),
            "{err}"
        );
        vars.insert("SWITCHYARD_TEST_KEY_X".to_string(), "sk-1".to_string());
        resolve(&mut v, &vars).unwrap();
        assert_eq!(v["model_list"][0]["litellm_params"]["api_key"], "sk-1");
    }
}
