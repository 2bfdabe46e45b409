//! OpenAI `tools`, `tool_choice` and `parallel_tool_calls` to Anthropic's
//! `tools` and `tool_choice`.

use serde_json::{Value, json};
use switchyard_sdk::openai::Tool;
use switchyard_sdk::types::PluginError;

use super::invalid;

/// Anthropic's schema for a function that declares no parameters.
fn empty_schema() -> Value {
    json!({"type": "object", "properties": {}})
}

/// Function tools become `{name, description, input_schema}` (keeping a
/// `cache_control` set on the tool); other tool types are Anthropic's own
/// (`web_search_20250305`, `bash_20250124`, ...) and pass through as given.
pub fn tools(tools: &[Tool]) -> Result<Vec<Value>, PluginError> {
    tools
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let at = format!("tools[{i}]");
            if t.kind != "function" {
                return serde_json::to_value(t)
                    .map_err(|e| PluginError::Internal(format!("{at}: {e}")));
            }
            let f = t
                .function
                .as_ref()
                .ok_or_else(|| invalid(format!("{at}: a function tool needs `function`")))?;
            if f.name.is_empty() {
                return Err(invalid(format!("{at}: a function tool needs a name")));
            }
            let mut tool = json!({
                "name": f.name,
                "input_schema": f.parameters.clone().filter(|p| !p.is_null()).unwrap_or_else(empty_schema),
            });
            if let Some(d) = f.description.as_deref().filter(|d| !d.is_empty()) {
                tool["description"] = json!(d);
            }
            if let Some(cc) = t
                .rest
                .get("cache_control")
                .or_else(|| f.rest.get("cache_control"))
                .filter(|v| !v.is_null())
            {
                tool["cache_control"] = cc.clone();
            }
            Ok(tool)
        })
        .collect()
}

/// Anthropic's `tool_choice` for OpenAI's `tool_choice` and
/// `parallel_tool_calls`, if either asks for anything.
pub fn tool_choice(
    choice: Option<&Value>,
    parallel: Option<&Value>,
) -> Result<Option<Value>, PluginError> {
    let mut out = match choice {
        None => None,
        Some(Value::String(s)) => Some(match s.as_str() {
            "auto" => json!({"type": "auto"}),
            "none" => json!({"type": "none"}),
            "required" => json!({"type": "any"}),
            other => {
                return Err(invalid(format!(
                    "tool_choice \"{other}\" is not one of auto, none, required"
                )));
            }
        }),
        Some(Value::Object(o)) => match o.get("type").and_then(Value::as_str) {
            Some("function") => {
                let name = o
                    .get("function")
                    .and_then(|f| f.get("name"))
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| invalid("tool_choice of type function needs function.name"))?;
                Some(json!({"type": "tool", "name": name}))
            }
            // Already Anthropic's shape.
            Some("auto" | "any" | "none") => Some(choice.cloned().unwrap_or_default()),
            Some("tool") if o.get("name").is_some_and(Value::is_string) => {
                Some(choice.cloned().unwrap_or_default())
            }
            _ => {
                return Err(invalid(format!(
                    "tool_choice {} is not supported by the anthropic adapter",
                    Value::Object(o.clone())
                )));
            }
        },
        Some(other) => return Err(invalid(format!("tool_choice {other} is not supported"))),
    };
    match parallel {
        None | Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => {
            let choice = out.get_or_insert_with(|| json!({"type": "auto"}));
            if choice.get("type").and_then(Value::as_str) != Some("none") {
                choice["disable_parallel_tool_use"] = Value::Bool(true);
            }
        }
        Some(other) => {
            return Err(invalid(format!(
                "parallel_tool_calls must be true or false, got {other}"
            )));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tools_of(v: Value) -> Result<Vec<Value>, PluginError> {
        let t: Vec<Tool> = serde_json::from_value(v).unwrap();
        tools(&t)
    }

    #[test]
    fn function_tools() {
        let out = tools_of(json!([
            {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}, "strict": true}},
            {"type": "function", "function": {"name": "now"}, "cache_control": {"type": "ephemeral"}},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
        ]))
        .unwrap();
        assert_eq!(
            out,
            vec![
                json!({"name": "get_weather", "description": "Weather for a city",
                       "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}),
                json!({"name": "now", "input_schema": {"type": "object", "properties": {}}, "cache_control": {"type": "ephemeral"}}),
                json!({"type": "web_search_20250305", "name": "web_search", "max_uses": 3}),
            ]
        );
        assert!(tools_of(json!([{"type": "function"}])).is_err());
        assert!(tools_of(json!([{"type": "function", "function": {"name": ""}}])).is_err());
    }

    #[test]
    fn choices() {
        let tc = |c: Value, p: Option<Value>| tool_choice(Some(&c), p.as_ref()).unwrap();
        assert_eq!(tc(json!("auto"), None), Some(json!({"type": "auto"})));
        assert_eq!(tc(json!("none"), None), Some(json!({"type": "none"})));
        assert_eq!(tc(json!("required"), None), Some(json!({"type": "any"})));
        assert_eq!(
            tc(json!({"type": "function", "function": {"name": "f"}}), None),
            Some(json!({"type": "tool", "name": "f"}))
        );
        assert_eq!(
            tc(json!({"type": "tool", "name": "f"}), None),
            Some(json!({"type": "tool", "name": "f"}))
        );
        assert_eq!(
            tc(json!("required"), Some(json!(false))),
            Some(json!({"type": "any", "disable_parallel_tool_use": true}))
        );
        assert_eq!(
            tc(json!("none"), Some(json!(false))),
            Some(json!({"type": "none"}))
        );
        assert_eq!(
            tc(json!("auto"), Some(json!(true))),
            Some(json!({"type": "auto"}))
        );
        assert_eq!(
            tool_choice(None, Some(&json!(false))).unwrap(),
            Some(json!({"type": "auto", "disable_parallel_tool_use": true}))
        );
        assert_eq!(tool_choice(None, None).unwrap(), None);
        for bad in [
            json!("sometimes"),
            json!({"type": "function"}),
            json!({"type": "allowed_tools", "allowed_tools": {}}),
            json!(3),
        ] {
            assert!(tool_choice(Some(&bad), None).is_err(), "{bad}");
        }
        assert!(tool_choice(None, Some(&json!("no"))).is_err());
    }
}
