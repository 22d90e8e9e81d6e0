//! Dovecot replication rules: no `replication_sync_timeout`, every `tcps` replica named
//! in the host's certificate, one `doveadm_password` for the whole pair.

use super::conf::{self, Setting};
use super::rendered::HostView;
use super::Finding;

pub const CONFIG_DIR: &str = "/etc/dovecot/";

/// Every setting in the host's rendered Dovecot files, with the file it is in.
pub fn settings(view: &HostView) -> Vec<(&str, Setting)> {
    view.files_under(CONFIG_DIR)
        .flat_map(|(dest, text)| conf::dovecot(text).into_iter().map(move |s| (dest, s)))
        .collect()
}

/// Whether the host's Dovecot would run the replicator.
pub fn uses_replicator(settings: &[(&str, Setting)]) -> bool {
    settings.iter().any(|(_, s)| {
        is_replica(&s.key)
            || (s.key == "mail_plugins" && s.value.split_whitespace().any(|p| p == "replication"))
            || s.section.iter().any(|sec| sec == "service replicator")
    })
}

/// `mail_replica`, `mail_replica2`, ...
fn is_replica(key: &str) -> bool {
    key.strip_prefix("mail_replica")
        .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
}

pub fn per_host(view: &HostView) -> Vec<Finding> {
    let settings = settings(view);
    let mut findings = Vec::new();
    for (dest, s) in &settings {
        if s.key == "replication_sync_timeout" {
            findings.push(Finding::new(
                &view.host,
                &s.key,
                format!(
                    "set in {dest}: with Dovecot 2.3 it makes the replicator loop until \
                     \"data stack: Out of memory\"; remove it"
                ),
            ));
        }
        if is_replica(&s.key) {
            findings.extend(replica_name(view, dest, s));
        }
    }
    findings
}

/// A `tcps:` replica is verified by name, so the name must be one the certificate has.
/// Without a certificate task on the host there is nothing to compare with.
fn replica_name(view: &HostView, dest: &str, s: &Setting) -> Option<Finding> {
    let rest = s.value.strip_prefix("tcps:")?;
    let name = peer_host(rest);
    if view.certificates.is_empty()
        || view
            .certificates
            .iter()
            .any(|names| names.iter().any(|n| covers(n, name)))
    {
        return None;
    }
    let declared: Vec<&str> = view
        .certificates
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    Some(Finding::new(
        &view.host,
        &s.key,
        format!(
            "`{}` in {dest} connects to {name} over TLS, but the host's certificate names \
             only {}: the peer's name is verified against it, so replication would fail",
            s.value,
            declared.join(", ")
        ),
    ))
}

/// The host part of `HOST[:PORT]`, `[v6]:PORT` included.
fn peer_host(rest: &str) -> &str {
    if let Some(v6) = rest.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    rest.split(':').next().unwrap_or(rest)
}

/// Whether certificate name `pattern` covers `name`: equal, or a wildcard standing for
/// exactly one leftmost label.
pub fn covers(pattern: &str, name: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(parent) => name
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => pattern == name,
    }
}

/// `doveadm_password` must be the same on every host of the play that sets it, and set
/// on every host that replicates. The values are never shown.
pub fn across_hosts(play: &[HostView]) -> Vec<Finding> {
    let mut first: Option<(&str, String)> = None;
    let mut findings = Vec::new();
    for view in play {
        let settings = settings(view);
        let password = settings
            .iter()
            .rev()
            .find(|(_, s)| s.key == "doveadm_password" && s.section.is_empty())
            .map(|(_, s)| s.value.clone());
        let Some(password) = password else {
            if let Some((other, _)) = &first {
                if settings.iter().any(|(_, s)| is_replica(&s.key)) {
                    findings.push(Finding::new(
                        &view.host,
                        "doveadm_password",
                        format!(
                            "set on {other} but not on {}, which replicates: doveadm \
                             between them needs the same password on both",
                            view.host
                        ),
                    ));
                }
            }
            continue;
        };
        match &first {
            None => first = Some((&view.host, password)),
            Some((other, theirs)) if *theirs != password => findings.push(Finding::new(
                &view.host,
                "doveadm_password",
                format!(
                    "differs between {other} and {}: replication between them fails \
                     authentication; use one password for the pair",
                    view.host
                ),
            )),
            Some(_) => {}
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_one_label() {
        assert!(covers("mail2.example.test", "MAIL2.example.test."));
        assert!(covers("*.example.test", "mail2.example.test"));
        assert!(!covers("*.example.test", "example.test"));
        assert!(!covers("*.example.test", "a.b.example.test"));
        assert!(!covers("mail1.example.test", "mail2.example.test"));
    }

    #[test]
    fn peer_host_is_found_in_every_form() {
        assert_eq!(peer_host("mail2.example.test:4000"), "mail2.example.test");
        assert_eq!(peer_host("mail2.example.test"), "mail2.example.test");
        assert_eq!(peer_host("[::1]:4000"), "::1");
    }
}
