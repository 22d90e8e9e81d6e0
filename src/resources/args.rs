//! Reading a task's rendered arguments with errors that name the argument at fault.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// A task's arguments after rendering. Reading an argument marks it as known;
/// `finish` then rejects any argument the resource did not read.
#[derive(Debug)]
pub struct Args {
    module: String,
    values: Map<String, Value>,
    seen: BTreeSet<String>,
}

/// An argument that is missing, unknown or of the wrong type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{module}: {message}")]
pub struct ArgError {
    pub module: String,
    pub message: String,
}

impl Args {
    pub fn new(module: &str, values: Map<String, Value>) -> Self {
        Args {
            module: module.to_string(),
            values,
            seen: BTreeSet::new(),
        }
    }

    pub fn error(&self, message: impl Into<String>) -> ArgError {
        ArgError {
            module: self.module.clone(),
            message: message.into(),
        }
    }

    fn take(&mut self, name: &str) -> Option<&Value> {
        self.seen.insert(name.to_string());
        self.values.get(name).filter(|v| !v.is_null())
    }

    pub fn has(&self, name: &str) -> bool {
        self.values.get(name).is_some_and(|v| !v.is_null())
    }

    /// A string argument; numbers and booleans are accepted and written as YAML would.
    pub fn str(&mut self, name: &str) -> Result<Option<String>, ArgError> {
        match self.take(name).cloned() {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(other) => Err(self.error(format!(
                "argument `{name}` must be a string, not {}",
                kind(&other)
            ))),
        }
    }

    pub fn req_str(&mut self, name: &str) -> Result<String, ArgError> {
        self.str(name)?
            .ok_or_else(|| self.error(format!("argument `{name}` is required")))
    }

    /// One of `choices`, or `default` when absent.
    pub fn choice(
        &mut self,
        name: &str,
        choices: &[&str],
        default: &str,
    ) -> Result<String, ArgError> {
        let value = self.str(name)?.unwrap_or_else(|| default.to_string());
        if choices.contains(&value.as_str()) {
            Ok(value)
        } else {
            Err(self.error(format!(
                "argument `{name}` is `{value}`; expected one of: {}",
                choices.join(", ")
            )))
        }
    }

    /// A boolean; accepts YAML's yes/no/true/false spellings given as strings too.
    pub fn bool(&mut self, name: &str) -> Result<Option<bool>, ArgError> {
        match self.take(name).cloned() {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Ok(Some(true)),
                "false" | "no" | "off" | "0" => Ok(Some(false)),
                _ => Err(self.error(format!("argument `{name}` must be a boolean, not `{s}`"))),
            },
            Some(other) => Err(self.error(format!(
                "argument `{name}` must be a boolean, not {}",
                kind(&other)
            ))),
        }
    }

    pub fn u64(&mut self, name: &str) -> Result<Option<u64>, ArgError> {
        match self.take(name).cloned() {
            None => Ok(None),
            Some(Value::Number(n)) if n.is_u64() => Ok(n.as_u64()),
            Some(Value::String(s)) if s.parse::<u64>().is_ok() => Ok(s.parse().ok()),
            Some(other) => Err(self.error(format!(
                "argument `{name}` must be a non-negative integer, not {}",
                kind(&other)
            ))),
        }
    }

    /// A list of strings; a single string (or a comma-separated one) is a list of one or more.
    pub fn list(&mut self, name: &str) -> Result<Option<Vec<String>>, ArgError> {
        let one_string = matches!(self.values.get(name), Some(Value::String(_)));
        let items = self.list_exact(name)?;
        Ok(items.map(|items| {
            if !one_string {
                return items;
            }
            items[0]
                .split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect()
        }))
    }

    /// A list of strings taken as written: a single string is a list of one, never split.
    pub fn list_exact(&mut self, name: &str) -> Result<Option<Vec<String>>, ArgError> {
        match self.take(name).cloned() {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![s])),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s),
                    Value::Number(n) => Ok(n.to_string()),
                    Value::Bool(b) => Ok(b.to_string()),
                    other => Err(self.error(format!(
                        "argument `{name}` must hold strings, not {}",
                        kind(&other)
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(self.error(format!(
                "argument `{name}` must be a list, not {}",
                kind(&other)
            ))),
        }
    }

    /// A file mode: octal digits as a string (`"0640"`), or an integer YAML read as octal
    /// digits (`0640` unquoted becomes 640 in YAML 1.2, which we read back as octal).
    /// Known gap: an unquoted `0o640` reaches us as the number 416 and is misread; the
    /// parsed value no longer says how it was written. README asks for quoted modes.
    pub fn mode(&mut self, name: &str) -> Result<Option<u32>, ArgError> {
        let Some(raw) = self.str(name)? else {
            return Ok(None);
        };
        let digits = raw.trim_start_matches("0o");
        u32::from_str_radix(digits, 8)
            .ok()
            .filter(|m| *m <= 0o7777)
            .map(Some)
            .ok_or_else(|| self.error(format!("argument `{name}`: `{raw}` is not an octal mode")))
    }

    /// An argument of any shape, for resources with structured arguments.
    pub fn value(&mut self, name: &str) -> Option<Value> {
        self.take(name).cloned()
    }

    /// Rejects arguments that no read asked for.
    pub fn finish(self) -> Result<(), ArgError> {
        let unknown: Vec<&str> = self
            .values
            .keys()
            .filter(|k| !self.seen.contains(*k))
            .map(String::as_str)
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(self.error(format!("unknown argument(s): {}", unknown.join(", "))))
        }
    }
}

/// For tests: builds a resource from JSON arguments the way the registry does, unknown
/// arguments included.
#[cfg(test)]
pub fn build_from<T>(
    module: &str,
    values: Value,
    from_args: impl FnOnce(&mut Args) -> Result<T, ArgError>,
) -> Result<T, ArgError> {
    let map = values
        .as_object()
        .expect("test arguments are a mapping")
        .clone();
    let mut args = Args::new(module, map);
    let built = from_args(&mut args)?;
    args.finish()?;
    Ok(built)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Args {
        Args::new("file", v.as_object().unwrap().clone())
    }

    #[test]
    fn unknown_arguments_are_rejected_by_name() {
        let mut a = args(json!({"path": "/x", "mdoe": "0644"}));
        assert_eq!(a.req_str("path").unwrap(), "/x");
        let err = a.finish().unwrap_err();
        assert_eq!(err.to_string(), "file: unknown argument(s): mdoe");
    }

    #[test]
    fn modes_read_as_octal_whether_quoted_or_not() {
        let mut a = args(json!({"a": "0640", "b": 644, "c": "9"}));
        assert_eq!(a.mode("a").unwrap(), Some(0o640));
        assert_eq!(a.mode("b").unwrap(), Some(0o644));
        assert!(a.mode("c").is_err());
    }

    #[test]
    fn lists_accept_one_string() {
        let mut a = args(json!({"name": "vim", "more": ["a", "b"]}));
        assert_eq!(a.list("name").unwrap().unwrap(), vec!["vim"]);
        assert_eq!(a.list("more").unwrap().unwrap(), vec!["a", "b"]);
    }
}
