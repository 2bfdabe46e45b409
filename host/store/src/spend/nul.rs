//! NUL characters out of a spend record before it is bound: PostgreSQL's
//! TEXT refuses them (22021) and `::jsonb` refuses `\u0000` (22P05), so one
//! client-supplied `user: "a\u0000"` would fail its whole batch. Both
//! databases store the same cleaned record.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::SpendRecord;

/// The record without NULs in any text field, tag or metadata string (keys
/// and values, at any depth); borrowed when there was none, as almost
/// always.
pub(crate) fn without_nul(r: &SpendRecord) -> Cow<'_, SpendRecord> {
    let texts = [
        Some(&r.request_id),
        r.key_hash.as_ref(),
        r.key_alias.as_ref(),
        r.user_id.as_ref(),
        r.team_id.as_ref(),
        r.end_user.as_ref(),
        r.model_group.as_ref(),
        r.deployment.as_ref(),
        r.provider.as_ref(),
        r.error_kind.as_ref(),
    ];
    let dirty = texts.into_iter().flatten().any(|s| has_nul(s))
        || r.tags.iter().any(|t| has_nul(t))
        || r.metadata
            .iter()
            .any(|(k, v)| has_nul(k) || value_has_nul(v));
    if !dirty {
        return Cow::Borrowed(r);
    }
    let mut clean = r.clone();
    for text in [
        Some(&mut clean.request_id),
        clean.key_hash.as_mut(),
        clean.key_alias.as_mut(),
        clean.user_id.as_mut(),
        clean.team_id.as_mut(),
        clean.end_user.as_mut(),
        clean.model_group.as_mut(),
        clean.deployment.as_mut(),
        clean.provider.as_mut(),
        clean.error_kind.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        strip(text);
    }
    clean.tags.iter_mut().for_each(strip);
    clean.metadata = map_without_nul(std::mem::take(&mut clean.metadata));
    Cow::Owned(clean)
}

fn has_nul(s: &str) -> bool {
    s.contains('\0')
}

fn strip(s: &mut String) {
    if has_nul(s) {
        s.retain(|c| c != '\0');
    }
}

fn value_has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => has_nul(s),
        Value::Array(items) => items.iter().any(value_has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| has_nul(k) || value_has_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Keys that differ only by NULs end up as one (the last one wins).
fn map_without_nul(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .map(|(mut k, v)| {
            strip(&mut k);
            (k, value_without_nul(v))
        })
        .collect()
}

fn value_without_nul(v: Value) -> Value {
    match v {
        Value::String(mut s) => {
            strip(&mut s);
            Value::String(s)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(value_without_nul).collect()),
        Value::Object(map) => Value::Object(map_without_nul(map)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strips_nul_from_text_tags_and_metadata_at_any_depth() {
        let r = SpendRecord {
            request_id: "req\0-1".to_owned(),
            user_id: Some("a\0".to_owned()),
            error_kind: Some("\0".to_owned()),
            tags: vec!["t\0ag".to_owned(), "plain".to_owned()],
            metadata: json!({"k\0": "v\0", "n": 1, "deep": {"x\0": ["a\0", {"y": "\0b"}]}})
                .as_object()
                .unwrap()
                .clone(),
            ..SpendRecord::default()
        };
        let clean = without_nul(&r);
        assert!(matches!(clean, Cow::Owned(_)));
        let expected = SpendRecord {
            request_id: "req-1".to_owned(),
            user_id: Some("a".to_owned()),
            error_kind: Some(String::new()),
            tags: vec!["tag".to_owned(), "plain".to_owned()],
            metadata: json!({"k": "v", "n": 1, "deep": {"x": ["a", {"y": "b"}]}})
                .as_object()
                .unwrap()
                .clone(),
            ..SpendRecord::default()
        };
        assert_eq!(*clean, expected);
    }

    #[test]
    fn a_clean_record_is_borrowed() {
        let r = SpendRecord {
            request_id: "req-1".to_owned(),
            user_id: Some("a".to_owned()),
            metadata: json!({"k": ["v"]}).as_object().unwrap().clone(),
            ..SpendRecord::default()
        };
        assert!(matches!(without_nul(&r), Cow::Borrowed(_)));
    }
}
