//! Lint rules run by `dsprov check` and before every apply: mistakes that parse fine but
//! cannot work on the hosts.
//!
//! Every rule looks at what each host would get: the files its copy and template tasks
//! render and the certificates it declares ([`rendered`]). Rules that need the host's real
//! facts (which Dovecot it runs) are in [`check_with_facts`], which the engine calls on the
//! tasks it compiled with those facts.

mod conf;
mod dovecot;
mod hostname;
mod iterate_query;
mod mariadb;
mod rendered;
#[cfg(test)]
mod tests;
mod version;

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::engine::{Loaded, Options};
pub use rendered::HostView;

/// One problem found, naming the host and the setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub host: String,
    pub setting: String,
    pub message: String,
}

impl Finding {
    fn new(host: &str, setting: &str, message: String) -> Finding {
        Finding {
            host: host.to_string(),
            setting: setting.to_string(),
            message,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.host, self.setting, self.message)
    }
}

/// The rules that need no facts, over every play. Tasks that do not compile are left out:
/// `check_offline` reports them.
pub fn run(loaded: &Loaded, opts: &Options) -> Vec<Finding> {
    let mut findings = Vec::new();
    for play in rendered::plays(loaded, opts, &BTreeMap::new()) {
        for host in &play {
            findings.extend(dovecot::per_host(host));
            findings.extend(iterate_query::check(host));
        }
        findings.extend(dovecot::across_hosts(&play));
        findings.extend(mariadb::check(&play));
        findings.extend(hostname::check(&play));
    }
    dedup(findings)
}

/// The rules that need the host's facts, on what its tasks compiled with those facts
/// would leave there (see `HostView::of`): a finding fails the host before its first task.
pub fn check_with_facts(view: &HostView, facts: &Value) -> Vec<Finding> {
    version::check(view, facts).into_iter().collect()
}

/// A host in several plays would otherwise be told the same thing once per play.
fn dedup(findings: Vec<Finding>) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    for f in findings {
        if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}
