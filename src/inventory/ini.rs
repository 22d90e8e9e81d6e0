//! Ansible's INI inventory layout: `[group]` sections of host lines with `key=value`
//! vars, `[group:vars]` and `[group:children]`; `#` and `;` start comment lines.

use std::path::Path;

use serde_json::Value;

use super::builder::{expand_range, Builder};
use super::{is_port_var, parse_port, Vars};
use crate::source::{InputError, Location};

enum Section {
    Hosts(String),
    Vars(String),
    Children(String),
}

pub(super) fn read(path: &Path, text: &str, builder: &mut Builder) -> Result<(), InputError> {
    // Host lines before any header are ungrouped, as in Ansible.
    let mut section = Section::Hosts("ungrouped".to_string());
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let at = |col: usize| Location {
            file: path.to_path_buf(),
            line: i + 1,
            col,
        };
        let indent = raw.len() - raw.trim_start().len() + 1;

        if line.starts_with('[') {
            section = header(line).map_err(|e| InputError::new(at(indent), e))?;
            let (Section::Hosts(g) | Section::Vars(g) | Section::Children(g)) = &section;
            builder.group(g);
            continue;
        }
        match &section {
            Section::Hosts(group) => host_line(line, indent, group, builder, &at)?,
            Section::Vars(group) => {
                let Some((key, value)) = line.split_once('=') else {
                    return Err(InputError::new(
                        at(indent),
                        format!("expected `name=value` in [{group}:vars], found '{line}'"),
                    ));
                };
                let (key, value) = (key.trim(), value.trim());
                let value = match unquote(value) {
                    Some(s) => Value::String(s),
                    None => parse_value(value),
                };
                let value = checked(key, value).map_err(|e| InputError::new(at(indent), e))?;
                builder.add_group_vars(group, &Vars::from_iter([(key.to_string(), value)]));
            }
            Section::Children(group) => {
                let tokens = tokenize(line).map_err(|e| InputError::new(at(indent), e))?;
                if tokens.len() != 1 {
                    return Err(InputError::new(
                        at(indent),
                        format!("expected one group name per line in [{group}:children], found '{line}'"),
                    ));
                }
                builder.add_child(group, &tokens[0].text, &at(indent))?;
            }
        }
    }
    Ok(())
}

/// `[name]`, `[name:hosts]`, `[name:vars]` or `[name:children]`, maybe followed by a comment.
fn header(line: &str) -> Result<Section, String> {
    let Some(close) = line.find(']') else {
        return Err(format!("section header '{line}' has no closing ']'"));
    };
    let rest = line[close + 1..].trim();
    if !rest.is_empty() && !rest.starts_with('#') && !rest.starts_with(';') {
        return Err(format!("unexpected '{rest}' after section header"));
    }
    let inner = &line[1..close];
    let (name, kind) = inner.split_once(':').unwrap_or((inner, "hosts"));
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(format!("invalid group name '{name}' in section header"));
    }
    let name = name.to_string();
    match kind {
        "hosts" => Ok(Section::Hosts(name)),
        "vars" => Ok(Section::Vars(name)),
        "children" => Ok(Section::Children(name)),
        other => Err(format!(
            "unknown section type ':{other}' in [{inner}]: expected :vars or :children"
        )),
    }
}

/// `host[:port] key=value ...`; the host may be a range like `web[01:03]`.
fn host_line(
    line: &str,
    indent: usize,
    group: &str,
    builder: &mut Builder,
    at: &dyn Fn(usize) -> Location,
) -> Result<(), InputError> {
    let tokens = tokenize(line).map_err(|e| InputError::new(at(indent), e))?;
    let Some((first, rest)) = tokens.split_first() else {
        return Ok(());
    };
    let first_at = at(indent + first.col);

    let mut vars = Vars::new();
    let (pattern, port) = split_port(&first.text);
    if let Some(port) = port {
        let port = checked("ansible_port", Value::String(port.to_string()))
            .map_err(|e| InputError::new(first_at.clone(), e))?;
        vars.insert("ansible_port".to_string(), port);
    }
    for token in rest {
        let token_at = at(indent + token.col);
        let Some((key, value)) = token.text.split_once('=') else {
            return Err(InputError::new(
                token_at,
                format!(
                    "expected `name=value` after host '{pattern}', found '{}'",
                    token.text
                ),
            ));
        };
        let value = if token.quoted {
            Value::String(value.to_string())
        } else {
            parse_value(value)
        };
        let value = checked(key, value).map_err(|e| InputError::new(token_at, e))?;
        vars.insert(key.to_string(), value);
    }

    for name in expand_range(pattern).map_err(|e| InputError::new(first_at.clone(), e))? {
        builder.add_host(group, &name, &vars, &first_at);
    }
    Ok(())
}

/// `host:2222` names a port; colons inside a range or in an IPv6 address do not.
fn split_port(host: &str) -> (&str, Option<&str>) {
    let mut depth = 0;
    let mut colons = Vec::new();
    for (i, c) in host.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ':' if depth == 0 => colons.push(i),
            _ => {}
        }
    }
    match colons.as_slice() {
        [i] if host[i + 1..].chars().all(|c| c.is_ascii_digit()) => {
            (&host[..*i], Some(&host[i + 1..]))
        }
        _ => (host, None),
    }
}

fn checked(key: &str, value: Value) -> Result<Value, String> {
    if is_port_var(key) {
        parse_port(&value).map_err(|e| format!("{key}: {e}"))?;
    }
    Ok(value)
}

/// An unquoted INI value: integers, floats and true/false become those; anything else
/// stays a string, as Ansible keeps what it cannot read as a literal.
fn parse_value(raw: &str) -> Value {
    if let Ok(i) = raw.parse::<i64>() {
        return Value::from(i);
    }
    let numeric = raw
        .trim_start_matches(['-', '+'])
        .starts_with(|c: char| c.is_ascii_digit())
        && raw
            .chars()
            .all(|c| c.is_ascii_digit() || "+-.eE".contains(c));
    if numeric {
        if let Some(n) = raw
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
        {
            return Value::Number(n);
        }
    }
    match raw.to_ascii_lowercase().as_str() {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(raw.to_string()),
    }
}

/// The text inside matching quotes, when the whole value is quoted.
fn unquote(value: &str) -> Option<String> {
    let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    (value.len() >= 2 && value.ends_with(quote)).then(|| value[1..value.len() - 1].to_string())
}

struct Token {
    text: String,
    /// Offset in the line (0-based, in characters).
    col: usize,
    /// Whether the value after `=` was quoted, which keeps it a string.
    quoted: bool,
}

/// Splits a line into shell-like words: quotes group and are removed, `\` escapes in
/// double quotes, and a `#` starting a word ends the line.
fn tokenize(line: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().enumerate().peekable();
    while let Some(&(col, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '#' {
            break;
        }
        let mut token = Token {
            text: String::new(),
            col,
            quoted: false,
        };
        while let Some(&(_, c)) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            match c {
                '"' | '\'' => {
                    if token.text.contains('=') {
                        token.quoted = true;
                    }
                    loop {
                        match chars.next() {
                            None => return Err(format!("unterminated {c} quote in '{line}'")),
                            Some((_, q)) if q == c => break,
                            Some((_, '\\')) if c == '"' => {
                                if let Some((_, escaped)) = chars.next() {
                                    token.text.push(escaped);
                                }
                            }
                            Some((_, other)) => token.text.push(other),
                        }
                    }
                }
                other => token.text.push(other),
            }
        }
        tokens.push(token);
    }
    Ok(tokens)
}
