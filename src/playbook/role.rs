//! Roles: `roles/NAME/{tasks,handlers,defaults,vars}/main.yml` with `templates/` and
//! `files/`, found beside the playbook or in the project's `roles/`.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::source::{InputError, Location, YamlDoc};

#[derive(Debug)]
pub struct Role {
    pub name: String,
    pub dir: PathBuf,
    pub defaults: Map<String, Value>,
    pub vars: Map<String, Value>,
    pub tasks: Option<YamlDoc>,
    pub handlers: Option<YamlDoc>,
}

/// Directories searched for roles, in order.
pub fn search_dirs(playbook_dir: &Path) -> Vec<PathBuf> {
    let mut dirs = vec![playbook_dir.join("roles")];
    if let Some(parent) = playbook_dir.parent() {
        dirs.push(parent.join("roles"));
    }
    dirs
}

impl Role {
    pub fn find(name: &str, playbook_dir: &Path, at: &Location) -> Result<Role, InputError> {
        let dirs = search_dirs(playbook_dir);
        let dir = dirs
            .iter()
            .map(|d| d.join(name))
            .find(|d| d.is_dir())
            .ok_or_else(|| {
                let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
                InputError::new(
                    at.clone(),
                    format!("role `{name}` not found (looked in {})", looked.join(", ")),
                )
            })?;
        Ok(Role {
            name: name.to_string(),
            defaults: load_vars(&dir.join("defaults"))?,
            vars: load_vars(&dir.join("vars"))?,
            tasks: load_optional(&dir.join("tasks"))?,
            handlers: load_optional(&dir.join("handlers"))?,
            dir,
        })
    }
}

fn main_file(dir: &Path) -> Option<PathBuf> {
    ["main.yml", "main.yaml"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
}

fn load_optional(dir: &Path) -> Result<Option<YamlDoc>, InputError> {
    main_file(dir).map(|p| YamlDoc::load(&p)).transpose()
}

/// A vars file as a mapping; an empty file is an empty mapping.
pub fn vars_of(doc: &YamlDoc) -> Result<Map<String, Value>, InputError> {
    match serde_json::to_value(&doc.value) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => Err(doc.error(&[], "a vars file must be a mapping of names to values")),
        Err(e) => Err(doc.error(&[], format!("unsupported value: {e}"))),
    }
}

fn load_vars(dir: &Path) -> Result<Map<String, Value>, InputError> {
    match main_file(dir) {
        Some(path) => vars_of(&YamlDoc::load(&path)?),
        None => Ok(Map::new()),
    }
}
