//! How a case's `expect` (or `error`) is compared with what the plugin
//! returned: as a subset. Keys the case does not name are ignored (a null
//! it names may also be missing), arrays must have the same length, numbers
//! are equal within a relative 1e-9, and a JSON value expected where the
//! plugin returned text is compared with that text parsed.

use serde_json::Value;

/// Matches `expected` against `actual` as a subset (see the module docs);
/// the error names the path of the first difference.
pub fn matches(expected: &Value, actual: &Value, path: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(_) | Value::Array(_), Value::String(text)) => {
            match serde_json::from_str::<Value>(text) {
                Ok(parsed) => matches(expected, &parsed, path),
                Err(_) => Err(format!(
                    "{path}: expected {expected}, got the string {text:?}"
                )),
            }
        }
        (Value::Object(want), Value::Object(got)) => {
            for (k, v) in want {
                let here = format!("{path}.{k}");
                match got.get(k) {
                    Some(a) => matches(v, a, &here)?,
                    None if v.is_null() => {}
                    None => return Err(format!("{here}: missing (expected {v})")),
                }
            }
            Ok(())
        }
        (Value::Array(want), Value::Array(got)) => {
            if want.len() != got.len() {
                return Err(format!(
                    "{path}: expected {} items, got {}: {}",
                    want.len(),
                    got.len(),
                    Value::Array(got.clone())
                ));
            }
            for (i, (w, g)) in want.iter().zip(got).enumerate() {
                matches(w, g, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Value::Number(w), Value::Number(g)) => {
            let (w, g) = (
                w.as_f64().unwrap_or(f64::NAN),
                g.as_f64().unwrap_or(f64::NAN),
            );
            let tolerance = 1e-9 * w.abs().max(g.abs()).max(1e-12);
            if (w - g).abs() <= tolerance {
                Ok(())
            } else {
                Err(format!("{path}: expected {w}, got {g}"))
            }
        }
        (w, g) if w == g => Ok(()),
        (w, g) => Err(format!("{path}: expected {w}, got {g}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subset_matching_ignores_unnamed_keys_and_parses_json_text() {
        let actual = json!({"a": 1, "b": "{\"x\": [1, 2]}", "c": 0.30000000000000004});
        assert!(matches(&json!({"a": 1}), &actual, "$").is_ok());
        assert!(matches(&json!({"b": {"x": [1, 2]}}), &actual, "$").is_ok());
        assert!(matches(&json!({"c": 0.3}), &actual, "$").is_ok());
        assert!(matches(&json!({"b": {"x": [1]}}), &actual, "$").is_err());
        assert!(matches(&json!({"d": 1}), &actual, "$").is_err());
        assert!(matches(&json!({"a": 2}), &actual, "$").is_err());
    }
}
