//! Reading management request bodies: JSON objects whose fields are
//! LiteLLM's, each checked for its type and range before anything is
//! written. Every refusal is a 400 in the OpenAI error shape naming the
//! field.

use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde_json::{Map, Value};
use switchyard_limits::Period;

use crate::config::Config;
use crate::gateway::ApiError;

/// What a field's value must be (`null` is always accepted: absent on
/// create, cleared on update).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A non-empty string.
    Text,
    /// A list of strings.
    Texts,
    /// A JSON object.
    Object,
    Flag,
    /// A finite number >= 0 (USD).
    Money,
    /// A whole number >= 0.
    Count,
    /// A duration `switchyard_limits::Period` reads (`30s`, `24h`, `1mo`).
    Period,
    /// An RFC 3339 time.
    Time,
    /// `{"<model>": <count>}`.
    CountMap,
    /// `{"<model>": {"budget_limit": <usd>, "time_period": "<period>"}}`.
    BudgetMap,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// Anything (LiteLLM fields kept as they are).
    Any,
}

/// What the handler does with a field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Use {
    /// Stored in the record and acted on.
    Record,
    /// Read by the handler itself (`key`, `duration`, `auto_create_key`).
    Request,
    /// A LiteLLM field stored with the record but not acted on.
    Kept,
    /// Accepted for compatibility and dropped (`spend`: spend is what the
    /// gateway records, never what a client says).
    Dropped,
}

/// One field an endpoint accepts.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub usage: Use,
}

pub const fn record(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        usage: Use::Record,
    }
}

pub const fn request(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        usage: Use::Request,
    }
}

pub const fn kept(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        usage: Use::Kept,
    }
}

pub const fn dropped(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        usage: Use::Dropped,
    }
}

/// The fields of one endpoint's body, in groups (shared lists are reused).
pub struct Schema {
    /// `POST /key/generate`, for messages.
    pub endpoint: &'static str,
    pub groups: &'static [&'static [Field]],
}

impl Schema {
    fn field(&self, name: &str) -> Option<&'static Field> {
        self.groups
            .iter()
            .flat_map(|g| g.iter())
            .find(|f| f.name == name)
    }
}

/// A checked body, split by what each field is for.
#[derive(Debug, Default)]
pub struct Checked {
    /// Record and kept fields, `null`s included (the caller decides what a
    /// `null` means).
    pub record: Map<String, Value>,
    /// Fields the handler reads itself.
    pub request: Map<String, Value>,
}

impl Checked {
    /// A request field as a string (checked already), if given and not null.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.request.get(name).and_then(Value::as_str)
    }

    /// A request flag, if given and not null.
    pub fn flag(&self, name: &str) -> Option<bool> {
        self.request.get(name).and_then(Value::as_bool)
    }

    /// A request field's list of strings (empty when absent or null).
    pub fn texts(&self, name: &str) -> Vec<String> {
        match self.request.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Reads a body that must be a JSON object, then checks it against `schema`.
pub fn body(
    raw: Result<Bytes, BytesRejection>,
    limit: usize,
    schema: &Schema,
) -> Result<Checked, ApiError> {
    let fields = object(raw, limit, schema.endpoint)?;
    check(fields, schema)
}

/// Reads a body that must be a JSON object; an empty body is `{}` (for
/// endpoints whose fields are all optional).
pub fn optional_body(
    raw: Result<Bytes, BytesRejection>,
    limit: usize,
    schema: &Schema,
) -> Result<Checked, ApiError> {
    let bytes = read(raw, limit)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Checked::default());
    }
    check(parse_object(&bytes, schema.endpoint)?, schema)
}

fn read(raw: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    raw.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(limit)
        } else {
            ApiError::bad_request(format!("could not read the request body: {e}"))
        }
    })
}

fn object(
    raw: Result<Bytes, BytesRejection>,
    limit: usize,
    endpoint: &str,
) -> Result<Map<String, Value>, ApiError> {
    let bytes = read(raw, limit)?;
    parse_object(&bytes, endpoint)
}

fn parse_object(bytes: &[u8], endpoint: &str) -> Result<Map<String, Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(format!(
            "{endpoint} needs a JSON object body; the body is empty"
        )));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ApiError::bad_request(format!(
            "{endpoint} needs a JSON object body, not {}",
            type_name(&other)
        ))),
        Err(e) => Err(ApiError::bad_request(format!(
            "{endpoint}: the body is not valid JSON: {e}"
        ))),
    }
}

/// Checks every field: known, and of its kind.
fn check(fields: Map<String, Value>, schema: &Schema) -> Result<Checked, ApiError> {
    let mut checked = Checked::default();
    for (name, value) in fields {
        let Some(field) = schema.field(&name) else {
            return Err(ApiError::bad_param(
                &name,
                format!(
                    "{}: unknown field `{name}` (see docs/management-api.md for the fields each endpoint reads)",
                    schema.endpoint
                ),
            ));
        };
        check_value(&name, field.kind, &value)?;
        match field.usage {
            Use::Record | Use::Kept => {
                checked.record.insert(name, value);
            }
            Use::Request => {
                checked.request.insert(name, value);
            }
            Use::Dropped => {}
        }
    }
    Ok(checked)
}

/// Checks one value against its kind; `null` always passes.
pub fn check_value(name: &str, kind: Kind, value: &Value) -> Result<(), ApiError> {
    if value.is_null() {
        return Ok(());
    }
    let wrong = |what: &str| {
        ApiError::bad_param(
            name,
            format!("`{name}` must be {what}, got {}", shown(name, value)),
        )
    };
    match kind {
        Kind::Any => Ok(()),
        Kind::Text => match value.as_str() {
            Some(s) if !s.is_empty() => Ok(()),
            _ => Err(wrong("a non-empty string")),
        },
        Kind::Texts => match value.as_array() {
            Some(items) if items.iter().all(Value::is_string) => Ok(()),
            _ => Err(wrong("a list of strings")),
        },
        Kind::Object => match value {
            Value::Object(_) => Ok(()),
            _ => Err(wrong("an object")),
        },
        Kind::Flag => match value {
            Value::Bool(_) => Ok(()),
            _ => Err(wrong("true or false")),
        },
        Kind::Money => match value.as_f64() {
            Some(n) if n.is_finite() && n >= 0.0 => Ok(()),
            _ => Err(wrong("a number >= 0")),
        },
        Kind::Count => match value.as_u64() {
            Some(_) => Ok(()),
            None => Err(wrong("a whole number >= 0")),
        },
        Kind::Period => match value.as_str() {
            Some(s) => period(name, s).map(|_| ()),
            None => Err(wrong(
                "a duration such as \"30s\", \"24h\", \"30d\" or \"1mo\"",
            )),
        },
        Kind::Time => match value.as_str() {
            Some(s) => time_ms(name, s).map(|_| ()),
            None => Err(wrong("an RFC 3339 time such as \"2030-01-31T00:00:00Z\"")),
        },
        Kind::OneOf(allowed) => match value.as_str() {
            Some(s) if allowed.contains(&s) => Ok(()),
            _ => Err(wrong(&format!("one of {}", allowed.join(", ")))),
        },
        Kind::CountMap => {
            let Some(map) = value.as_object() else {
                return Err(wrong("an object of model names to whole numbers"));
            };
            for (model, v) in map {
                check_value(&format!("{name}.{model}"), Kind::Count, v)?;
                if v.is_null() {
                    return Err(wrong("an object of model names to whole numbers"));
                }
            }
            Ok(())
        }
        Kind::BudgetMap => {
            let Some(map) = value.as_object() else {
                return Err(wrong(
                    "an object of model names to {\"budget_limit\", \"time_period\"}",
                ));
            };
            for (model, v) in map {
                budget(&format!("{name}.{model}"), v)?;
            }
            Ok(())
        }
    }
}

/// One `model_max_budget` entry.
fn budget(name: &str, value: &Value) -> Result<(), ApiError> {
    let Some(entry) = value.as_object() else {
        return Err(ApiError::bad_param(
            name,
            format!(
                "`{name}` must be an object {{\"budget_limit\": <usd>, \"time_period\": \"30d\"}}, got {}",
                shown(name, value)
            ),
        ));
    };
    for (k, v) in entry {
        let path = format!("{name}.{k}");
        match k.as_str() {
            "budget_limit" => check_value(&path, Kind::Money, v)?,
            "time_period" => check_value(&path, Kind::Period, v)?,
            _ => {
                return Err(ApiError::bad_param(
                    &path,
                    format!(
                        "unknown field `{path}`: a model budget has budget_limit and time_period"
                    ),
                ));
            }
        }
    }
    match entry.get("budget_limit") {
        Some(v) if !v.is_null() => Ok(()),
        _ => Err(ApiError::bad_param(
            name,
            format!("`{name}` needs a budget_limit"),
        )),
    }
}

/// A duration, as the limits read it; the error names the field and input.
pub fn period(name: &str, s: &str) -> Result<Period, ApiError> {
    Period::from_str(s).map_err(|e| {
        ApiError::bad_param(
            name,
            format!("`{name}` is not a duration such as \"30s\", \"24h\", \"30d\" or \"1mo\": {e}"),
        )
    })
}

/// An RFC 3339 time as milliseconds since the epoch.
pub fn time_ms(name: &str, s: &str) -> Result<i64, ApiError> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .map_err(|e| {
            ApiError::bad_param(
                name,
                format!("`{name}` is not an RFC 3339 time such as \"2030-01-31T00:00:00Z\": {e}"),
            )
        })
}

/// A required field of the request part, as a string.
pub fn required<'a>(checked: &'a Checked, name: &str, endpoint: &str) -> Result<&'a str, ApiError> {
    checked
        .text(name)
        .ok_or_else(|| ApiError::bad_param(name, format!("{endpoint} needs `{name}`")))
}

/// Every name in `models` must be a model group, an alias or
/// `all-proxy-models`; 400 naming the first unknown one.
pub fn check_models(
    config: &Config,
    field: &str,
    fields: &Map<String, Value>,
) -> Result<(), ApiError> {
    let Some(Value::Array(models)) = fields.get(field) else {
        return Ok(());
    };
    for m in models.iter().filter_map(Value::as_str) {
        if m != ALL_MODELS && config.group(m).is_none() {
            let known: Vec<&str> = config.groups.keys().map(String::as_str).collect();
            return Err(ApiError::bad_param(
                field,
                format!(
                    "`{field}` names {m}, which is not a model group or alias of this gateway (known: {}; or {ALL_MODELS})",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// The name in a `models` list that allows every model (LiteLLM's).
pub const ALL_MODELS: &str = "all-proxy-models";

/// Applies an update to a stored body: fields absent stay, `null` clears,
/// others replace (objects too, as LiteLLM replaces `metadata`).
pub fn merge(body: &Value, changes: &Map<String, Value>) -> Map<String, Value> {
    let mut merged = match body {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    for (k, v) in changes {
        if v.is_null() {
            merged.remove(k);
        } else {
            merged.insert(k.clone(), v.clone());
        }
    }
    merged
}

/// A body for a new record: `null`s dropped.
pub fn fresh(fields: &Map<String, Value>) -> Map<String, Value> {
    fields
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Reads a checked body into a record type. The checks above make this
/// infallible in practice; a failure is still a 400, never a panic.
pub fn into_record<R: serde::de::DeserializeOwned>(
    body: Map<String, Value>,
) -> Result<R, ApiError> {
    serde_json::from_value(Value::Object(body))
        .map_err(|e| ApiError::bad_request(format!("the record does not read: {e}")))
}

/// The empty value a view shows for a field that is not set.
#[derive(Debug, Clone, Copy)]
pub enum Empty {
    Null,
    False,
    List,
    Object,
}

impl Empty {
    fn value(self) -> Value {
        match self {
            Empty::Null => Value::Null,
            Empty::False => Value::Bool(false),
            Empty::List => Value::Array(Vec::new()),
            Empty::Object => Value::Object(Map::new()),
        }
    }
}

/// Fills LiteLLM's usual fields with their empty values when absent, so
/// clients that index them find them.
pub fn with_defaults(
    mut view: Map<String, Value>,
    defaults: &[(&str, Empty)],
) -> Map<String, Value> {
    for (k, empty) in defaults {
        view.entry(k.to_string()).or_insert_with(|| empty.value());
    }
    view
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Fields whose values may be key secrets: never shown in a message.
const SECRET_FIELDS: &[&str] = &["key", "keys", "new_key", "new_master_key"];

/// A value as shown in a message: short, never a long string in full,
/// never the value of a field that may hold a key.
fn shown(name: &str, v: &Value) -> String {
    if SECRET_FIELDS.contains(&name) {
        return format!("{} (not shown)", type_name(v));
    }
    let s = v.to_string();
    if s.chars().count() > 60 {
        let head: String = s.chars().take(57).collect();
        format!("{head}...")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FIELDS: &[Field] = &[
        record("max_budget", Kind::Money),
        record("rpm_limit", Kind::Count),
        record("budget_duration", Kind::Period),
        record("expires", Kind::Time),
        record("models", Kind::Texts),
        record("model_max_budget", Kind::BudgetMap),
        record("model_rpm_limit", Kind::CountMap),
        request("key", Kind::Text),
        kept("soft_budget", Kind::Money),
        dropped("spend", Kind::Money),
    ];
    const SCHEMA: Schema = Schema {
        endpoint: "POST /test",
        groups: &[FIELDS],
    };

    fn run(body: &str) -> Result<Checked, ApiError> {
        super::body(Ok(Bytes::from(body.to_string())), 1000, &SCHEMA)
    }

    fn refused(body: &str) -> ApiError {
        match run(body) {
            Ok(c) => panic!("accepted {body}: {c:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn fields_are_split_by_use_and_spend_is_dropped() {
        let c = run(r#"{"max_budget": 1.5, "key": "sk-x", "soft_budget": 2, "spend": 3, "rpm_limit": null}"#).unwrap();
        assert_eq!(c.record.get("max_budget"), Some(&json!(1.5)));
        assert_eq!(c.record.get("soft_budget"), Some(&json!(2)));
        assert_eq!(c.record.get("rpm_limit"), Some(&Value::Null));
        assert_eq!(c.text("key"), Some("sk-x"));
        assert!(!c.record.contains_key("spend") && !c.request.contains_key("spend"));
    }

    #[test]
    fn bad_bodies_are_400s_naming_the_problem() {
        let e = refused("{not json");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.contains("not valid JSON"), "{}", e.message);
        assert!(refused("[1]").message.contains("not an array"));
        assert!(refused("").message.contains("empty"));
        let e = refused(r#"{"colour": 1}"#);
        assert_eq!(e.param.as_deref(), Some("colour"));
        assert!(
            e.message.contains("unknown field `colour`"),
            "{}",
            e.message
        );
        let e = refused(r#"{"max_budget": -1}"#);
        assert_eq!(e.param.as_deref(), Some("max_budget"));
        assert_eq!(e.message, "`max_budget` must be a number >= 0, got -1");
        let e = refused(r#"{"rpm_limit": 1.5}"#);
        assert_eq!(
            e.message,
            "`rpm_limit` must be a whole number >= 0, got 1.5"
        );
        let e = refused(r#"{"budget_duration": "often"}"#);
        assert_eq!(e.param.as_deref(), Some("budget_duration"));
        assert!(e.message.contains("often"), "{}", e.message);
        let e = refused(r#"{"expires": "tomorrow"}"#);
        assert_eq!(e.param.as_deref(), Some("expires"));
        let e = refused(r#"{"models": ["a", 1]}"#);
        assert_eq!(
            e.message,
            "`models` must be a list of strings, got [\"a\",1]"
        );
        let e = refused(r#"{"model_max_budget": {"gpt-4o": {"budget_limit": -2}}}"#);
        assert_eq!(
            e.param.as_deref(),
            Some("model_max_budget.gpt-4o.budget_limit")
        );
        let e = refused(r#"{"model_max_budget": {"gpt-4o": {"time_period": "1d"}}}"#);
        assert_eq!(e.message, "`model_max_budget.gpt-4o` needs a budget_limit");
        let e = refused(r#"{"model_rpm_limit": {"gpt-4o": -1}}"#);
        assert_eq!(e.param.as_deref(), Some("model_rpm_limit.gpt-4o"));
        let e = refused(r#"{"key": ["sk-secret"]}"#);
        assert_eq!(
            e.message,
            "`key` must be a non-empty string, got an array (not shown)"
        );
    }

    #[test]
    fn merge_keeps_absent_fields_clears_nulls_and_replaces_the_rest() {
        let stored = json!({"a": 1, "b": {"x": 1}, "c": 3});
        let changes = json!({"b": {"y": 2}, "c": null, "d": 4});
        let merged = merge(&stored, changes.as_object().unwrap());
        assert_eq!(
            Value::Object(merged),
            json!({"a": 1, "b": {"y": 2}, "d": 4})
        );
    }
}
