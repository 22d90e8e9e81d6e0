//! Ansible's YAML inventory layout:
//! `all: {hosts: {h1: {vars}}, vars: {..}, children: {mail: {hosts, vars, children}}}`.
//! Groups other than `all` may also sit at the top level.

use serde_yaml::Value as Yaml;

use super::builder::{expand_range, Builder};
use super::{is_port_var, parse_port, Vars};
use crate::source::{InputError, Seg, YamlDoc};

pub(super) fn read(doc: &YamlDoc, builder: &mut Builder) -> Result<(), InputError> {
    let mut root = doc.value.clone();
    root.apply_merge()
        .map_err(|e| doc.error(&[], format!("invalid YAML merge key: {e}")))?;

    let groups = match &root {
        Yaml::Null => return Ok(()),
        Yaml::Mapping(m) => m,
        other => {
            return Err(doc.error(
                &[],
                format!(
                    "an inventory must be a mapping of group names (like `all:`), found {}",
                    kind(other)
                ),
            ))
        }
    };
    for (key, value) in groups {
        let name = key_name(doc, &[], key)?;
        read_group(doc, builder, vec![Seg::Key(name.clone())], &name, value)?;
    }
    Ok(())
}

fn read_group(
    doc: &YamlDoc,
    builder: &mut Builder,
    path: Vec<Seg>,
    name: &str,
    value: &Yaml,
) -> Result<(), InputError> {
    builder.group(name);
    let fields = match value {
        Yaml::Null => return Ok(()),
        Yaml::Mapping(m) => m,
        other => {
            return Err(doc.error(
                &path,
                format!(
                    "group '{name}' must be a mapping with hosts, vars or children, found {}",
                    kind(other)
                ),
            ))
        }
    };

    for (key, value) in fields {
        let field = key_name(doc, &path, key)?;
        let path = [path.as_slice(), &[Seg::Key(field.clone())]].concat();
        match field.as_str() {
            "hosts" => read_hosts(doc, builder, &path, name, value)?,
            "vars" => {
                let vars = vars(doc, &path, value, &format!("vars of group '{name}'"))?;
                builder.add_group_vars(name, &vars);
            }
            "children" => {
                for (child, value) in entries(doc, &path, value, &format!("children of '{name}'"))?
                {
                    let child_path = [path.as_slice(), &[Seg::Key(child.clone())]].concat();
                    builder.add_child(name, &child, &doc.key_location(&child_path))?;
                    read_group(doc, builder, child_path, &child, value)?;
                }
            }
            other => {
                return Err(InputError::new(
                    doc.key_location(&path),
                    format!(
                        "unknown key '{other}' in group '{name}': expected hosts, vars or children"
                    ),
                ))
            }
        }
    }
    Ok(())
}

fn read_hosts(
    doc: &YamlDoc,
    builder: &mut Builder,
    path: &[Seg],
    group: &str,
    value: &Yaml,
) -> Result<(), InputError> {
    for (pattern, value) in entries(doc, path, value, &format!("hosts of group '{group}'"))? {
        let host_path = [path, &[Seg::Key(pattern.clone())]].concat();
        let location = doc.key_location(&host_path);
        let host_vars = match value {
            Yaml::Null => Vars::new(),
            Yaml::Mapping(_) => vars(doc, &host_path, value, &format!("host '{pattern}'"))?,
            other => {
                return Err(doc.error(
                    &host_path,
                    format!(
                        "host '{pattern}' must be a mapping of variables or empty, found {}",
                        kind(other)
                    ),
                ))
            }
        };
        let names = expand_range(&pattern).map_err(|e| InputError::new(location.clone(), e))?;
        for name in names {
            builder.add_host(group, &name, &host_vars, &location);
        }
    }
    Ok(())
}

/// The entries of a mapping of names (null counts as empty), with the keys as strings.
fn entries<'a>(
    doc: &YamlDoc,
    path: &[Seg],
    value: &'a Yaml,
    what: &str,
) -> Result<Vec<(String, &'a Yaml)>, InputError> {
    match value {
        Yaml::Null => Ok(Vec::new()),
        Yaml::Mapping(m) => m
            .iter()
            .map(|(k, v)| Ok((key_name(doc, path, k)?, v)))
            .collect(),
        other => Err(doc.error(
            path,
            format!("{what} must be a mapping of names, found {}", kind(other)),
        )),
    }
}

/// A mapping of variables, converted to JSON values; ports are checked here, where the
/// error can still point at the file.
pub(super) fn vars(
    doc: &YamlDoc,
    path: &[Seg],
    value: &Yaml,
    what: &str,
) -> Result<Vars, InputError> {
    let mut vars = Vars::new();
    for (name, value) in entries(doc, path, value, what)? {
        let var_path = [path, &[Seg::Key(name.clone())]].concat();
        let json = to_json(doc, &var_path, value)?;
        if is_port_var(&name) {
            parse_port(&json).map_err(|e| doc.error(&var_path, format!("{name}: {e}")))?;
        }
        vars.insert(name, json);
    }
    Ok(vars)
}

fn to_json(doc: &YamlDoc, path: &[Seg], value: &Yaml) -> Result<serde_json::Value, InputError> {
    use serde_json::Value as Json;
    Ok(match value {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(*b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::from(i)
            } else if let Some(u) = n.as_u64() {
                Json::from(u)
            } else {
                // NaN and infinities have no JSON form; null is what serde_json makes of them.
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Json::Null, Json::Number)
            }
        }
        Yaml::String(s) => Json::String(s.clone()),
        Yaml::Sequence(items) => Json::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| to_json(doc, &[path, &[Seg::Index(i)]].concat(), item))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(m) => {
            let mut map = serde_json::Map::new();
            for (k, v) in m {
                let key = key_name(doc, path, k)?;
                let json = to_json(doc, &[path, &[Seg::Key(key.clone())]].concat(), v)?;
                map.insert(key, json);
            }
            Json::Object(map)
        }
        Yaml::Tagged(tagged) => {
            return Err(doc.error(
                path,
                format!(
                    "YAML tag {} is not supported in inventory values",
                    tagged.tag
                ),
            ))
        }
    })
}

/// A mapping key as a name: strings, and numbers or booleans as written.
fn key_name(doc: &YamlDoc, path: &[Seg], key: &Yaml) -> Result<String, InputError> {
    match key {
        Yaml::String(s) => Ok(s.clone()),
        Yaml::Number(n) => Ok(n.to_string()),
        Yaml::Bool(b) => Ok(b.to_string()),
        other => Err(doc.error(path, format!("a key must be a name, found {}", kind(other)))),
    }
}

pub(super) fn kind(value: &Yaml) -> &'static str {
    match value {
        Yaml::Null => "null",
        Yaml::Bool(_) => "a boolean",
        Yaml::Number(_) => "a number",
        Yaml::String(_) => "a string",
        Yaml::Sequence(_) => "a list",
        Yaml::Mapping(_) => "a mapping",
        Yaml::Tagged(_) => "a tagged value",
    }
}
