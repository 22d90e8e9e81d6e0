//! Dovecot 2.4 removed the replicator: a host that would run a newer Dovecot than 2.3
//! is refused instead of given a replication config that cannot work.

use serde_json::Value;

use super::dovecot;
use super::rendered::HostView;
use super::Finding;

/// Debian releases that ship Dovecot 2.4, by codename (testing has no `VERSION_ID`).
const DEBIAN_WITH_2_4: [&str; 4] = ["trixie", "forky", "duke", "sid"];

pub fn check(view: &HostView, facts: &Value) -> Option<Finding> {
    if !dovecot::uses_replicator(&dovecot::settings(view)) {
        return None;
    }
    let why = newer_than_2_3(facts)?;
    Some(Finding::new(
        &view.host,
        "dovecot",
        format!(
            "{why}: Dovecot 2.4 removed the replicator, and dsprov will not write a \
             replicator config that cannot work; use Dovecot 2.3 (Debian 12)"
        ),
    ))
}

/// Why the host would run Dovecot newer than 2.3, if it would: the installed package
/// decides; without one, the release's.
fn newer_than_2_3(facts: &Value) -> Option<String> {
    if let Some(installed) = facts
        .pointer("/packages/dovecot-core")
        .and_then(Value::as_str)
    {
        let (major, minor) = major_minor(installed)?;
        return ((major, minor) > (2, 3)).then(|| format!("dovecot-core {installed} is installed"));
    }
    let field = |name: &str| {
        facts
            .pointer(&format!("/os/{name}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    if field("id") != "debian" {
        return None;
    }
    let version = field("version_id");
    let major: Option<u32> = version.split('.').next().and_then(|v| v.parse().ok());
    match major {
        Some(n) if n >= 13 => Some(format!("Debian {version} ships Dovecot 2.4")),
        None if DEBIAN_WITH_2_4.contains(&field("codename")) => {
            Some(format!("Debian {} ships Dovecot 2.4", field("codename")))
        }
        _ => None,
    }
}

/// Major and minor of a Debian version: `1:2.3.19.1+dfsg1-2.1+deb12u1` is (2, 3).
fn major_minor(version: &str) -> Option<(u32, u32)> {
    let no_epoch = match version.split_once(':') {
        Some((epoch, rest)) if epoch.chars().all(|c| c.is_ascii_digit()) => rest,
        _ => version,
    };
    let upstream = no_epoch.rsplit_once('-').map_or(no_epoch, |(u, _)| u);
    let mut parts = upstream.split('.').map(|p| {
        let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u32>().ok()
    });
    Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn debian_versions_are_read() {
        assert_eq!(major_minor("1:2.3.19.1+dfsg1-2.1+deb12u1"), Some((2, 3)));
        assert_eq!(major_minor("1:2.4.1+dfsg1-6"), Some((2, 4)));
        assert_eq!(major_minor("2.10"), Some((2, 10)));
        assert_eq!(major_minor("x"), None);
    }

    #[test]
    fn installed_package_wins_over_the_release() {
        let f = json!({"os": {"id": "debian", "version_id": "13"},
                       "packages": {"dovecot-core": "1:2.3.21+dfsg1-3"}});
        assert_eq!(newer_than_2_3(&f), None);
        let f = json!({"os": {"id": "debian", "version_id": "13"}, "packages": {}});
        assert!(newer_than_2_3(&f).unwrap().contains("Debian 13"));
        let f = json!({"os": {"id": "debian", "version_id": "", "codename": "forky"}});
        assert!(newer_than_2_3(&f).is_some());
        let f = json!({"os": {"id": "debian", "version_id": "12"}, "packages": {}});
        assert_eq!(newer_than_2_3(&f), None);
    }
}
