//! Keeps a record's metadata under 4 KiB once serialized, so one client
//! cannot bloat the spend table: the largest entries go first.

use serde_json::{Map, Value};

/// Most bytes of metadata JSON stored per record.
pub(crate) const METADATA_MAX: usize = 4096;

/// The metadata as JSON text of at most [`METADATA_MAX`] bytes.
pub(crate) fn metadata_json(metadata: &Map<String, Value>) -> String {
    let whole = Value::Object(metadata.clone()).to_string();
    if whole.len() <= METADATA_MAX {
        return whole;
    }
    // `{` entries joined by `,` `}`, each entry `"key":value`.
    let mut entries: Vec<(&String, usize)> = metadata
        .iter()
        .map(|(k, v)| {
            (
                k,
                Value::String(k.clone()).to_string().len() + 1 + v.to_string().len(),
            )
        })
        .collect();
    let mut len = 2 + entries.iter().map(|e| e.1).sum::<usize>() + entries.len().saturating_sub(1);
    entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let mut dropped = std::collections::HashSet::new();
    for (key, size) in entries {
        if len <= METADATA_MAX {
            break;
        }
        dropped.insert(key);
        // The entry and the comma that separated it (none if it was the last).
        len -= size + usize::from(dropped.len() < metadata.len());
    }
    let kept: Map<String, Value> = metadata
        .iter()
        .filter(|(k, _)| !dropped.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(kept).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn small_metadata_is_kept_whole() {
        let m = map(json!({"a": 1, "b": "x"}));
        assert_eq!(metadata_json(&m), r#"{"a":1,"b":"x"}"#);
    }

    #[test]
    fn the_largest_keys_are_dropped_until_it_fits() {
        let m = map(json!({
            "big": "x".repeat(3000),
            "bigger": "y".repeat(3500),
            "small": 1,
            "trace": "t".repeat(1000),
        }));
        let out = metadata_json(&m);
        let kept: Map<String, Value> = serde_json::from_str(&out).unwrap();
        assert_eq!(
            kept.keys().collect::<Vec<_>>(),
            vec!["big", "small", "trace"]
        );
        assert!(out.len() <= METADATA_MAX);
    }

    #[test]
    fn exactly_the_limit_is_kept() {
        // {"k":"…"} is 8 bytes of framing.
        let m = map(json!({"k": "v".repeat(METADATA_MAX - 8)}));
        assert_eq!(metadata_json(&m).len(), METADATA_MAX);
        let m = map(json!({"k": "v".repeat(METADATA_MAX - 7)}));
        assert_eq!(metadata_json(&m), "{}");
    }
}
