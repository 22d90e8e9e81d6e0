//! The inventory under construction, whatever layout it was written in: hosts and groups
//! as declared, resolved by `finish` into full memberships once the graph is checked.

use std::collections::HashMap;

use super::{merge, Group, Host, Vars};
use crate::source::{InputError, Location};

struct HostDef {
    name: String,
    vars: Vars,
    location: Location,
}

struct GroupDef {
    name: String,
    /// Hosts listed in the group itself, as indices into `Builder::hosts`.
    hosts: Vec<usize>,
    /// Child group names, each with where it was listed.
    children: Vec<(String, Location)>,
    vars: Vars,
}

pub(super) struct Builder {
    hosts: Vec<HostDef>,
    host_index: HashMap<String, usize>,
    groups: Vec<GroupDef>,
    group_index: HashMap<String, usize>,
}

impl Builder {
    pub fn new() -> Builder {
        let mut builder = Builder {
            hosts: Vec::new(),
            host_index: HashMap::new(),
            groups: Vec::new(),
            group_index: HashMap::new(),
        };
        builder.group("all");
        builder.group("ungrouped");
        builder
    }

    /// Declares `name` (again is fine) and returns its index.
    pub fn group(&mut self, name: &str) -> usize {
        if let Some(&i) = self.group_index.get(name) {
            return i;
        }
        self.groups.push(GroupDef {
            name: name.to_string(),
            hosts: Vec::new(),
            children: Vec::new(),
            vars: Vars::new(),
        });
        self.group_index
            .insert(name.to_string(), self.groups.len() - 1);
        self.groups.len() - 1
    }

    /// Adds `host` to `group`; vars given again for a known host are set over the old ones.
    pub fn add_host(&mut self, group: &str, host: &str, vars: &Vars, location: &Location) {
        let index = match self.host_index.get(host) {
            Some(&i) => i,
            None => {
                self.hosts.push(HostDef {
                    name: host.to_string(),
                    vars: Vars::new(),
                    location: location.clone(),
                });
                self.host_index
                    .insert(host.to_string(), self.hosts.len() - 1);
                self.hosts.len() - 1
            }
        };
        merge(&mut self.hosts[index].vars, vars);

        let g = self.group(group);
        if !self.groups[g].hosts.contains(&index) {
            self.groups[g].hosts.push(index);
        }
    }

    pub fn add_child(
        &mut self,
        parent: &str,
        child: &str,
        location: &Location,
    ) -> Result<(), InputError> {
        if child == "all" {
            return Err(InputError::new(
                location.clone(),
                format!("group '{parent}' cannot have 'all' as a child: every group is in 'all'"),
            ));
        }
        self.group(child);
        let p = self.group(parent);
        if !self.groups[p].children.iter().any(|(c, _)| c == child) {
            self.groups[p]
                .children
                .push((child.to_string(), location.clone()));
        }
        Ok(())
    }

    pub fn add_group_vars(&mut self, group: &str, vars: &Vars) {
        let g = self.group(group);
        merge(&mut self.groups[g].vars, vars);
    }

    /// Checks the graph and resolves every group's full host list.
    pub fn finish(mut self) -> Result<(Vec<Host>, Vec<Group>), InputError> {
        for host in &self.hosts {
            if self.group_index.contains_key(&host.name) {
                return Err(InputError::new(
                    host.location.clone(),
                    format!(
                        "'{}' is both a host and a group name; patterns could not tell them apart",
                        host.name
                    ),
                ));
            }
        }
        self.check_cycles()?;
        self.attach_top_level_groups();

        let members = self.members();
        let hosts = self
            .hosts
            .iter()
            .map(|h| Host {
                name: h.name.clone(),
                vars: h.vars.clone(),
            })
            .collect();
        let groups = self
            .groups
            .iter()
            .zip(members)
            .map(|(g, members)| Group {
                name: g.name.clone(),
                hosts: members
                    .iter()
                    .map(|&i| self.hosts[i].name.clone())
                    .collect(),
                children: g.children.iter().map(|(c, _)| c.clone()).collect(),
                vars: g.vars.clone(),
            })
            .collect();
        Ok((hosts, groups))
    }

    /// A group that is its own descendant is an error at the `children` entry closing the loop.
    fn check_cycles(&self) -> Result<(), InputError> {
        // 0: not seen, 1: on the current path, 2: done.
        let mut state = vec![0u8; self.groups.len()];
        let mut path = Vec::new();
        for start in 0..self.groups.len() {
            self.visit(start, &mut state, &mut path)?;
        }
        Ok(())
    }

    fn visit(&self, g: usize, state: &mut [u8], path: &mut Vec<usize>) -> Result<(), InputError> {
        if state[g] == 2 {
            return Ok(());
        }
        state[g] = 1;
        path.push(g);
        for (child, location) in &self.groups[g].children {
            let c = self.group_index[child];
            if state[c] == 1 {
                let from = path.iter().position(|&p| p == c).unwrap_or(0);
                let mut names: Vec<&str> = path[from..]
                    .iter()
                    .map(|&p| self.groups[p].name.as_str())
                    .collect();
                names.push(child);
                return Err(InputError::new(
                    location.clone(),
                    format!("group cycle: {}", names.join(" -> ")),
                ));
            }
            self.visit(c, state, path)?;
        }
        path.pop();
        state[g] = 2;
        Ok(())
    }

    /// Every group nobody else lists as a child is a child of `all`, as in Ansible.
    fn attach_top_level_groups(&mut self) {
        let all = self.group_index["all"];
        let mut has_parent = vec![false; self.groups.len()];
        for (i, group) in self.groups.iter().enumerate() {
            if i != all {
                for (child, _) in &group.children {
                    has_parent[self.group_index[child]] = true;
                }
            }
        }
        let orphans: Vec<String> = self
            .groups
            .iter()
            .zip(has_parent)
            .enumerate()
            .filter(|&(i, (_, has_parent))| i != all && !has_parent)
            .map(|(_, (group, _))| group.name.clone())
            .collect();
        for name in orphans {
            if !self.groups[all].children.iter().any(|(c, _)| *c == name) {
                self.groups[all].children.push((name, Location::default()));
            }
        }
    }

    /// Each group's hosts, own and inherited, sorted into inventory order. `all` has every
    /// host; `ungrouped` has those in no other group.
    fn members(&self) -> Vec<Vec<usize>> {
        let mut memo: Vec<Option<Vec<bool>>> = vec![None; self.groups.len()];
        let mut members = Vec::new();
        for g in 0..self.groups.len() {
            let set = match self.groups[g].name.as_str() {
                "all" => vec![true; self.hosts.len()],
                "ungrouped" => self.ungrouped(),
                _ => self.member_set(g, &mut memo),
            };
            members.push((0..self.hosts.len()).filter(|&h| set[h]).collect());
        }
        members
    }

    fn member_set(&self, g: usize, memo: &mut Vec<Option<Vec<bool>>>) -> Vec<bool> {
        if let Some(set) = &memo[g] {
            return set.clone();
        }
        let mut set = vec![false; self.hosts.len()];
        for &h in &self.groups[g].hosts {
            set[h] = true;
        }
        for (child, _) in &self.groups[g].children {
            let child_set = self.member_set(self.group_index[child], memo);
            for (s, c) in set.iter_mut().zip(child_set) {
                *s |= c;
            }
        }
        memo[g] = Some(set.clone());
        set
    }

    fn ungrouped(&self) -> Vec<bool> {
        let mut grouped = vec![false; self.hosts.len()];
        for group in &self.groups {
            if group.name != "all" && group.name != "ungrouped" {
                for &h in &group.hosts {
                    grouped[h] = true;
                }
            }
        }
        grouped.iter().map(|g| !g).collect()
    }
}

/// Expands Ansible host ranges: `web[01:03]` is web01, web02, web03; `db-[a:c]` is db-a,
/// db-b, db-c; `[1:9:2]` steps by 2. Several ranges in one name multiply.
pub(super) fn expand_range(name: &str) -> Result<Vec<String>, String> {
    let Some(open) = name.find('[') else {
        return Ok(vec![name.to_string()]);
    };
    let close = match name[open..].find(']') {
        Some(i) => open + i,
        None => return Err(format!("host range in '{name}' has no closing ']'")),
    };
    let (head, spec, tail) = (&name[..open], &name[open + 1..close], &name[close + 1..]);
    let parts: Vec<&str> = spec.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return Err(format!(
            "host range '[{spec}]' in '{name}' must be [start:end] or [start:end:step]"
        ));
    }
    let step = match parts.get(2) {
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(format!(
                    "host range '[{spec}]' in '{name}' has a bad step '{s}'"
                ))
            }
        },
        None => 1,
    };

    let (start, end) = (parts[0], parts[1]);
    let items: Vec<String> = if let (Ok(a), Ok(b)) = (start.parse::<u64>(), end.parse::<u64>()) {
        // A leading zero asks for every number padded to the start's width.
        let width = if start.len() > 1 && start.starts_with('0') {
            start.len()
        } else {
            0
        };
        (a..=b)
            .step_by(step)
            .map(|n| format!("{n:0width$}"))
            .collect()
    } else if let (Some(a), Some(b)) = (single_letter(start), single_letter(end)) {
        (a..=b).step_by(step).map(String::from).collect()
    } else {
        return Err(format!(
            "host range '[{spec}]' in '{name}' must go between two numbers or two letters"
        ));
    };
    if items.is_empty() {
        return Err(format!("host range '[{spec}]' in '{name}' is empty"));
    }

    let tails = expand_range(tail)?;
    Ok(items
        .iter()
        .flat_map(|item| tails.iter().map(move |t| format!("{head}{item}{t}")))
        .collect())
}

fn single_letter(s: &str) -> Option<char> {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_alphabetic() => Some(c),
        _ => None,
    }
}
