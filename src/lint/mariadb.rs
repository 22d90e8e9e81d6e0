//! MariaDB primary-primary: `server_id`, `gtid_domain_id` and `auto_increment_offset`
//! must differ between the servers of a play, or replication loops or collides.

use std::collections::BTreeMap;

use super::conf;
use super::rendered::HostView;
use super::Finding;

const CONFIG_DIR: &str = "/etc/mysql/";
const UNIQUE: [&str; 3] = ["server_id", "gtid_domain_id", "auto_increment_offset"];

/// Sections the server reads: `[mysqld]`, `[server]`, `[mariadb]`, `[mariadbd]`, and
/// their `-X.Y` versioned forms.
fn server_section(name: &str) -> bool {
    let base = name.split('-').next().unwrap_or(name);
    ["mysqld", "server", "mariadb", "mariadbd"].contains(&base)
}

/// The host's value of each unique setting; files in path order, as the server's
/// `!includedir` reads them, so the last one wins.
fn values(view: &HostView) -> BTreeMap<&'static str, String> {
    let mut values = BTreeMap::new();
    for (_, text) in view.files_under(CONFIG_DIR) {
        for s in conf::mariadb(text) {
            if !s.section.iter().any(|sec| server_section(sec)) {
                continue;
            }
            if let Some(key) = UNIQUE.iter().find(|k| **k == s.key) {
                values.insert(*key, s.value);
            }
        }
    }
    values
}

pub fn check(play: &[HostView]) -> Vec<Finding> {
    let mut seen: BTreeMap<(&str, String), &str> = BTreeMap::new();
    let mut findings = Vec::new();
    for view in play {
        for (key, value) in values(view) {
            match seen.get(&(key, value.clone())) {
                Some(other) => findings.push(Finding::new(
                    &view.host,
                    key,
                    format!(
                        "{key} = {value} on both {other} and {}: each server of a \
                         primary-primary pair needs its own",
                        view.host
                    ),
                )),
                None => {
                    seen.insert((key, value), &view.host);
                }
            }
        }
    }
    findings
}
