//! Variables: where they come from, which wins, and rendering them with Tera.
//!
//! Precedence, lowest first: role defaults, inventory group vars (`all` first, then
//! parents before children), host vars, secrets.yml, play vars (and `vars_files`), role
//! vars, extra vars (`-e`). Built-ins (`inventory_hostname`, `groups`, `hostvars`, `play_hosts`,
//! `facts`, `secrets`) are set last and cannot be overridden.

pub mod redact;
pub mod secrets;
pub mod template;

use serde_json::{Map, Value};

/// Merges `layers` in order: a later layer's keys replace an earlier one's.
/// Mappings are replaced whole, as Ansible does by default.
pub fn merge_layers<'a>(
    layers: impl IntoIterator<Item = &'a Map<String, Value>>,
) -> Map<String, Value> {
    let mut merged = Map::new();
    for layer in layers {
        for (k, v) in layer {
            merged.insert(k.clone(), v.clone());
        }
    }
    merged
}

/// Parses one `-e` argument: `KEY=VALUE` (VALUE read as YAML, so `n=3` is a number)
/// or `@file.yml`.
pub fn parse_extra_var(arg: &str) -> Result<Map<String, Value>, String> {
    if let Some(file) = arg.strip_prefix('@') {
        let doc =
            crate::source::YamlDoc::load(std::path::Path::new(file)).map_err(|e| e.to_string())?;
        return match serde_json::to_value(&doc.value) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(format!("{file}: extra vars file must be a mapping")),
        };
    }
    let (key, value) = arg
        .split_once('=')
        .ok_or_else(|| format!("-e {arg}: expected KEY=VALUE or @FILE"))?;
    if key.is_empty() {
        return Err(format!("-e {arg}: empty variable name"));
    }
    let value: Value = serde_yaml::from_str::<serde_yaml::Value>(value)
        .ok()
        .and_then(|v| serde_json::to_value(v).ok())
        .filter(|v| !v.is_null() || value.is_empty())
        .unwrap_or_else(|| Value::String(value.to_string()));
    let mut map = Map::new();
    map.insert(key.to_string(), value);
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn later_layers_win() {
        let a = json!({"x": 1, "y": 1}).as_object().unwrap().clone();
        let b = json!({"y": 2}).as_object().unwrap().clone();
        assert_eq!(
            Value::Object(merge_layers([&a, &b])),
            json!({"x": 1, "y": 2})
        );
    }

    #[test]
    fn extra_vars_are_typed_like_yaml() {
        assert_eq!(parse_extra_var("n=3").unwrap()["n"], json!(3));
        assert_eq!(
            parse_extra_var("s=hello world").unwrap()["s"],
            json!("hello world")
        );
        assert!(parse_extra_var("novalue").is_err());
    }
}
