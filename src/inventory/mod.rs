//! The inventory: which hosts exist, how they are grouped, and the variables set on them.
//!
//! Two file layouts are read, Ansible's YAML and INI ones; both feed a `Builder` that
//! resolves group membership and checks the graph. `group_vars/` and `host_vars/` next to
//! the inventory (and in the other directories the engine names) are layered on top.

mod builder;
mod ini;
mod pattern;
mod vars_dirs;
mod yaml;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::source::{InputError, Location, YamlDoc};
use builder::Builder;

/// Variables by name, as every layer of the inventory holds them.
pub type Vars = Map<String, Value>;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    /// The inventory file.
    pub path: PathBuf,
    /// In order of first appearance.
    pub hosts: Vec<Host>,
    /// Includes `all` and `ungrouped`.
    pub groups: Vec<Group>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Host {
    pub name: String,
    /// Variables set on the host itself: inventory host vars, then host_vars/NAME over them.
    pub vars: Vars,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    pub name: String,
    /// All hosts of the group, including those of its children; inventory order, no duplicates.
    pub hosts: Vec<String>,
    pub children: Vec<String>,
    /// Inventory group vars, then group_vars/NAME over them.
    pub vars: Vars,
}

/// How to reach a host, from its variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub address: String,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub ssh_key: Option<PathBuf>,
}

impl Inventory {
    /// Reads the inventory at `path`, then the group_vars/ and host_vars/ of the inventory's
    /// own directory and of `var_dirs`, in increasing precedence.
    pub fn load(path: &Path, var_dirs: &[PathBuf]) -> Result<Inventory, InputError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError::new(Location::file(path), format!("cannot read: {e}")))?;

        let mut builder = Builder::new();
        match detect(path, &text)? {
            Layout::Ini => ini::read(path, &text, &mut builder)?,
            Layout::Yaml(doc) => yaml::read(&doc, &mut builder)?,
        }
        let (hosts, groups) = builder.finish()?;
        let mut inventory = Inventory {
            path: path.to_path_buf(),
            hosts,
            groups,
        };

        // The inventory's directory is always read, and first: it has the lowest precedence.
        let mut dirs = vec![inventory.dir()];
        dirs.extend(var_dirs.iter().cloned());
        vars_dirs::apply(&mut inventory, &dirs)?;
        Ok(inventory)
    }

    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// The groups `host` belongs to, by precedence low to high: `all` first, then by depth
    /// (parents before children), ties broken by name, as Ansible does.
    pub fn groups_of(&self, host: &str) -> Vec<&Group> {
        let depths = self.depths();
        let mut groups: Vec<&Group> = self
            .groups
            .iter()
            .filter(|g| g.hosts.iter().any(|h| h == host))
            .collect();
        groups.sort_by(|a, b| {
            let depth = |g: &Group| depths.get(g.name.as_str()).copied().unwrap_or(0);
            (depth(a), &a.name).cmp(&(depth(b), &b.name))
        });
        groups
    }

    /// The host's variables as the inventory sees them: group vars in `groups_of` order,
    /// then the host's own.
    pub fn vars_for(&self, host: &str) -> Vars {
        let mut vars = Vars::new();
        for group in self.groups_of(host) {
            merge(&mut vars, &group.vars);
        }
        if let Some(host) = self.host(host) {
            merge(&mut vars, &host.vars);
        }
        vars
    }

    /// How to reach `host`: `address`/`ansible_host` (default: its name), `port`/
    /// `ansible_port`, `user`/`ansible_user`, `ssh_key`/`ansible_ssh_private_key_file`.
    pub fn connection(&self, host: &str) -> Result<Connection, String> {
        if self.host(host).is_none() {
            return Err(format!("no host named '{host}' in {}", self.path.display()));
        }
        let vars = self.vars_for(host);
        let var =
            |names: [&'static str; 2]| names.into_iter().find_map(|n| vars.get(n).map(|v| (n, v)));
        let string = |names: [&'static str; 2]| match var(names) {
            None => Ok(None),
            Some((_, Value::String(s))) => Ok(Some(s.clone())),
            Some((name, other)) => Err(format!(
                "host '{host}': {name} must be a string, not {other}"
            )),
        };

        let address = string(["address", "ansible_host"])?.unwrap_or_else(|| host.to_string());
        let port = match var(["port", "ansible_port"]) {
            None => None,
            Some((_, value)) => Some(parse_port(value).map_err(|e| format!("host '{host}': {e}"))?),
        };
        let user = string(["user", "ansible_user"])?;
        let ssh_key = string(["ssh_key", "ansible_ssh_private_key_file"])?
            .map(|key| resolve_path(&key, &self.dir()));
        Ok(Connection {
            address,
            port,
            user,
            ssh_key,
        })
    }

    /// The `groups` variable: every group's name, with its hosts' names.
    pub fn groups_map(&self) -> Vars {
        self.groups
            .iter()
            .map(|g| {
                let hosts = g.hosts.iter().cloned().map(Value::String).collect();
                (g.name.clone(), Value::Array(hosts))
            })
            .collect()
    }

    /// The hosts an Ansible host pattern selects, in inventory order.
    pub fn select(&self, pattern: &str) -> Result<Vec<String>, String> {
        pattern::select(self, pattern)
    }

    /// The directory relative paths in the inventory are taken from.
    fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// Each group's depth below `all`: the longest chain of parents above it.
    fn depths(&self) -> HashMap<&str, usize> {
        let mut parents: HashMap<&str, Vec<&str>> = HashMap::new();
        for group in &self.groups {
            for child in &group.children {
                parents.entry(child).or_default().push(&group.name);
            }
        }
        let mut depths = HashMap::new();
        for group in &self.groups {
            depth(&group.name, &parents, &mut depths, &mut HashSet::new());
        }
        depths
    }
}

fn depth<'a>(
    group: &'a str,
    parents: &HashMap<&'a str, Vec<&'a str>>,
    depths: &mut HashMap<&'a str, usize>,
    visiting: &mut HashSet<&'a str>,
) -> usize {
    if let Some(&d) = depths.get(group) {
        return d;
    }
    // Loading rejects cycles; the guard only keeps a hand-built inventory from recursing forever.
    if !visiting.insert(group) {
        return 0;
    }
    let d = parents
        .get(group)
        .into_iter()
        .flatten()
        .map(|p| depth(p, parents, depths, visiting) + 1)
        .max()
        .unwrap_or(0);
    depths.insert(group, d);
    d
}

/// Sets every variable of `over` in `vars`; later layers replace whole values, as
/// Ansible's default `hash_behaviour=replace` does.
pub(crate) fn merge(vars: &mut Vars, over: &Vars) {
    for (k, v) in over {
        vars.insert(k.clone(), v.clone());
    }
}

/// A port number from a variable: an integer or a string of digits, 1 to 65535.
pub(crate) fn parse_port(value: &Value) -> Result<u16, String> {
    let number = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match number {
        Some(n @ 1..=65535) => Ok(n as u16),
        _ => Err(format!(
            "invalid port {value}: expected a number from 1 to 65535"
        )),
    }
}

/// The variable names that hold a port, checked wherever they are set.
pub(crate) fn is_port_var(name: &str) -> bool {
    name == "port" || name == "ansible_port"
}

fn resolve_path(path: &str, base: &Path) -> PathBuf {
    let expanded = match path.strip_prefix("~/") {
        Some(rest) => dirs::home_dir().map(|home| home.join(rest)),
        None if path == "~" => dirs::home_dir(),
        None => None,
    };
    let path = expanded.unwrap_or_else(|| PathBuf::from(path));
    if path.is_absolute() {
        path
    } else {
        base.join(path)
    }
}

enum Layout {
    Ini,
    Yaml(YamlDoc),
}

/// `.yml`/`.yaml`/`.json` are YAML and `.ini` is INI. Anything else is INI when a line
/// starts with `[`, or when it does not read as a YAML mapping (a bare list of hosts).
fn detect(path: &Path, text: &str) -> Result<Layout, InputError> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext {
        "ini" => return Ok(Layout::Ini),
        "yml" | "yaml" | "json" => return Ok(Layout::Yaml(YamlDoc::parse(path, text)?)),
        _ => {}
    }
    if text.lines().any(|line| line.starts_with('[')) {
        return Ok(Layout::Ini);
    }
    Ok(match YamlDoc::parse(path, text) {
        Ok(doc) if doc.value.is_mapping() || doc.value.is_null() => Layout::Yaml(doc),
        _ => Layout::Ini,
    })
}
