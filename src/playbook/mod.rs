//! Playbooks: plays, tasks, handlers and roles as the user wrote them, checked for shape
//! but not yet rendered (rendering needs a host's variables).

mod load;
mod role;

use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::source::Location;

pub use load::load;

#[derive(Debug, Clone)]
pub struct Playbook {
    pub path: PathBuf,
    pub plays: Vec<Play>,
}

#[derive(Debug, Clone)]
pub struct Play {
    pub name: String,
    pub hosts: String,
    pub location: Location,
    /// `vars` and the contents of `vars_files`, in that order.
    pub vars: Map<String, Value>,
    /// Defaults of the play's roles (lowest precedence of all variables).
    pub role_defaults: Map<String, Value>,
    /// `vars/main.yml` of the play's roles (above play vars).
    pub role_vars: Map<String, Value>,
    pub become_root: bool,
    /// Role tasks first, in role order, then the play's own tasks.
    pub tasks: Vec<Task>,
    pub handlers: Vec<Task>,
}

#[derive(Debug, Clone)]
pub struct Task {
    pub name: String,
    pub module: String,
    /// The module's arguments, unrendered. Free-form strings are stored as `{cmd: ...}`.
    pub args: Value,
    pub when: Vec<String>,
    pub notify: Vec<String>,
    pub tags: Vec<String>,
    /// `loop` (or `with_items`), unrendered.
    pub loop_items: Option<Value>,
    pub become_root: Option<bool>,
    pub run_once: bool,
    /// For handlers: extra names this handler answers to.
    pub listen: Vec<String>,
    pub location: Location,
    /// Where each of the module's arguments was written, for errors about one of them.
    pub arg_locations: std::collections::BTreeMap<String, Location>,
    /// Where `copy` looks for `src` and `template` for templates.
    pub file_dirs: Vec<PathBuf>,
    pub template_dirs: Vec<PathBuf>,
    /// The role the task comes from, for messages.
    pub role: Option<String>,
}

impl Task {
    /// Where an error message about the task points: at the argument it names
    /// ("argument `mode`", "unknown argument(s): mdoe"), else at the task.
    pub fn location_of(&self, message: &str) -> Location {
        let named = message
            .split_once("unknown argument(s): ")
            .map(|(_, rest)| rest.split([',', ' ']).next().unwrap_or_default())
            .or_else(|| {
                let (_, rest) = message.split_once("argument `")?;
                rest.split('`').next()
            });
        named
            .and_then(|name| self.arg_locations.get(name))
            .unwrap_or(&self.location)
            .clone()
    }

    /// How the task is named in output: its name, or its module when unnamed.
    pub fn label(&self) -> String {
        let base = if self.name.is_empty() {
            self.module.clone()
        } else {
            self.name.clone()
        };
        match &self.role {
            Some(role) => format!("{role} : {base}"),
            None => base,
        }
    }

    /// Whether `--tags`/`--skip-tags` select this task. Tags `always` and `never` act as in Ansible.
    pub fn selected(&self, only: &[String], skip: &[String]) -> bool {
        let has = |t: &str| self.tags.iter().any(|x| x == t);
        if skip.iter().any(|t| has(t)) {
            return false;
        }
        if has("always") {
            return true;
        }
        if only.is_empty() {
            return !has("never");
        }
        only.iter().any(|t| has(t) || t == "all")
    }
}
