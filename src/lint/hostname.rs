//! Hosts of one play must not share a hostname: Dovecot's replication locks (and
//! MariaDB's default log names) tell servers apart by it, and cloned images often share one.

use std::collections::BTreeMap;

use super::rendered::HostView;
use super::Finding;

/// The inventory name, unless a rendered `/etc/hostname` says otherwise.
fn hostname(view: &HostView) -> String {
    view.files
        .get("/etc/hostname")
        .and_then(|c| c.lines().map(str::trim).find(|l| !l.is_empty()))
        .unwrap_or(&view.host)
        .to_ascii_lowercase()
}

pub fn check(play: &[HostView]) -> Vec<Finding> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    let mut findings = Vec::new();
    for view in play {
        let name = hostname(view);
        match seen.get(&name) {
            Some(other) => findings.push(Finding::new(
                &view.host,
                "hostname",
                format!(
                    "{} would be named {name}, like {other}: Dovecot's replication \
                     tells hosts apart by hostname; give each its own",
                    view.host
                ),
            )),
            None => {
                seen.insert(name, &view.host);
            }
        }
    }
    findings
}
