//! `apt`: Debian packages installed, kept at the newest candidate, or removed, with an
//! optional refresh of the package lists first.
//!
//! Refreshing the lists is a side effect, not state, so it is reported only when it is
//! what the task asked for: with `cache_valid_time`, a stale cache is refreshed and that
//! counts as a change, while a fresh one is left alone (a converged second run reports
//! nothing). With `update_cache` and no `cache_valid_time`, the lists are refreshed right
//! before anything is installed; on their own they count as a change only for a task that
//! names no package (its whole job is the refresh, as in Ansible).

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::remote::quote;
use super::{ArgError, Args, Change, HostHandle, Probe, Resource, ResourceError};

/// Where apt records a successful refresh; we touch it too, so freshness is known even
/// when a refresh left the lists directory's mtime unchanged.
const STAMP: &str = "/var/lib/apt/periodic/update-success-stamp";

/// Options every apt-get call gets: no prompts, keep local config files, wait for a
/// concurrent dpkg (unattended-upgrades) instead of failing on its lock.
const APT_GET: &str = "apt-get -y -q -o DPkg::Lock::Timeout=120 \
     -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold";

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PackageState {
    Present,
    Absent,
    Latest,
}

#[derive(Debug)]
pub struct Apt {
    pub names: Vec<String>,
    pub state: PackageState,
    pub update_cache: bool,
    pub cache_valid_time: Option<u64>,
    /// Debian installs recommends by default; provisioning wants exactly what it names.
    pub install_recommends: bool,
    /// With `state: absent`, also remove configuration files.
    pub purge: bool,
    /// Exit code of a temporary `/usr/sbin/policy-rc.d` during the install (101: packages'
    /// scripts start no service), so a server starts only once it is configured.
    pub policy_rc_d: Option<u64>,
}

impl Apt {
    pub fn from_args(args: &mut Args) -> Result<Apt, ArgError> {
        let names = match args.list("name")? {
            Some(n) => n,
            None => args.list("pkg")?.unwrap_or_default(),
        };
        for name in &names {
            if !valid_package_name(name) {
                return Err(args.error(format!(
                    "`{name}` is not a Debian package name (version pins, architecture \
                     qualifiers and patterns are not supported)"
                )));
            }
        }
        let state = match args
            .choice("state", &["present", "absent", "latest"], "present")?
            .as_str()
        {
            "absent" => PackageState::Absent,
            "latest" => PackageState::Latest,
            _ => PackageState::Present,
        };
        let cache_valid_time = args.u64("cache_valid_time")?;
        // Like Ansible, a validity period implies the refresh.
        let update_cache = args
            .bool("update_cache")?
            .unwrap_or(cache_valid_time.is_some());
        if names.is_empty() && !update_cache {
            return Err(args.error("argument `name` is required (or `update_cache: true`)"));
        }
        Ok(Apt {
            names,
            state,
            update_cache,
            cache_valid_time,
            install_recommends: args.bool("install_recommends")?.unwrap_or(false),
            purge: args.bool("purge")?.unwrap_or(false),
            policy_rc_d: args.u64("policy_rc_d")?.filter(|code| *code <= 255),
        })
    }

    /// Whether the lists are to be refreshed, judged from the probe's `cache_age`.
    fn cache_stale(&self, observed: &Probe) -> bool {
        if !self.update_cache {
            return false;
        }
        let Some(valid) = self.cache_valid_time else {
            return true;
        };
        match observed
            .field("cache_age")
            .and_then(|a| a.parse::<i64>().ok())
        {
            Some(age) => age < 0 || age as u64 >= valid,
            None => true,
        }
    }
}

/// Debian policy: lower-case letters, digits, `+ - .`, at least two characters,
/// starting with a letter or digit.
fn valid_package_name(name: &str) -> bool {
    name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
}

/// One package as dpkg knows it.
#[derive(Debug, Clone, PartialEq)]
struct Installed {
    /// dpkg's status word: `installed`, `config-files`, `half-configured`...
    status: String,
    version: String,
}

/// Parses `pkg=NAME WANT EFLAG STATUS VERSION` lines.
fn parse_installed(observed: &Probe) -> BTreeMap<String, Installed> {
    let mut map = BTreeMap::new();
    for rest in observed
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("pkg="))
    {
        let words: Vec<&str> = rest.split_whitespace().collect();
        if words.len() < 4 {
            continue;
        }
        map.insert(
            words[0].to_string(),
            Installed {
                status: words[3].to_string(),
                version: words.get(4).unwrap_or(&"").to_string(),
            },
        );
    }
    map
}

/// Parses `candidate=NAME VERSION` lines (`(none)` when apt knows no candidate).
fn parse_candidates(observed: &Probe) -> BTreeMap<String, String> {
    observed
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("candidate="))
        .filter_map(|rest| rest.split_once(' '))
        .map(|(name, version)| (name.to_string(), version.trim().to_string()))
        .collect()
}

#[async_trait]
impl Resource for Apt {
    fn probe(&self) -> String {
        let mut script = String::from(
            "command -v dpkg-query >/dev/null 2>&1 || { echo dpkg=missing; exit 0; }\n",
        );
        let names: Vec<String> = self.names.iter().map(|n| quote(n)).collect();
        let names = names.join(" ");
        if !self.names.is_empty() {
            // Unknown packages print nothing here (dpkg complains on stderr only).
            script.push_str(&format!(
                "dpkg-query -W -f='pkg=${{Package}} ${{Status}} ${{Version}}\\n' {names} 2>/dev/null\n"
            ));
        }
        if self.state == PackageState::Latest && !self.names.is_empty() {
            script.push_str(&format!(
                "apt-cache policy {names} 2>/dev/null | awk '/^[^ ].*:$/ {{ p = substr($0, 1, length($0) - 1) }} \
                 /^  Candidate:/ {{ print \"candidate=\" p \" \" $2 }}'\n"
            ));
        }
        if self.update_cache && self.cache_valid_time.is_some() {
            script.push_str(&format!(
                "t=$(stat -c %Y {STAMP} /var/lib/apt/lists 2>/dev/null | sort -n | tail -n 1)\n\
                 [ -n \"$t\" ] && echo cache_age=$(( $(date +%s) - t ))\n"
            ));
        }
        script.push_str("true\n");
        script
    }

    fn diff(&self, observed: &Probe) -> Result<Vec<Change>, ResourceError> {
        if observed.field("dpkg").is_some() {
            return Err(ResourceError::new(
                "apt: this host has no dpkg-query; it is not Debian-based",
            ));
        }
        let installed = parse_installed(observed);
        let candidates = parse_candidates(observed);
        let is_installed =
            |name: &str| installed.get(name).is_some_and(|p| p.status == "installed");

        let (mut install, mut upgrade, mut remove) = (Vec::new(), Vec::new(), Vec::new());
        for name in &self.names {
            match self.state {
                PackageState::Present if !is_installed(name) => install.push(name.clone()),
                PackageState::Latest if !is_installed(name) => install.push(name.clone()),
                PackageState::Latest => {
                    let have = &installed[name].version;
                    match candidates.get(name).map(String::as_str) {
                        Some(want) if want != "(none)" && want != have => {
                            upgrade.push(format!("{name} ({have} -> {want})"))
                        }
                        _ => {}
                    }
                }
                PackageState::Absent => {
                    // A removed package keeps its conffiles; `purge` wants those gone too.
                    let leftover = installed.get(name).is_some_and(|p| {
                        p.status != "not-installed" && (self.purge || p.status != "config-files")
                    });
                    if leftover {
                        remove.push(name.clone());
                    }
                }
                PackageState::Present => {}
            }
        }

        let mut changes = Vec::new();
        let packages = !(install.is_empty() && upgrade.is_empty() && remove.is_empty());
        if self.cache_stale(observed) && (self.cache_valid_time.is_some() || self.names.is_empty())
        {
            let age = observed
                .field("cache_age")
                .map(|a| format!(" (last refreshed {a}s ago)"))
                .unwrap_or_default();
            changes.push(Change::Run {
                what: format!("apt-get update{age}"),
            });
        }
        if packages {
            changes.push(Change::Packages {
                install,
                upgrade,
                remove,
            });
        }
        Ok(changes)
    }

    async fn apply(
        &self,
        host: &HostHandle<'_>,
        observed: &Probe,
        changes: &[Change],
    ) -> Result<(), ResourceError> {
        let mut script = String::from("set -e\nexport DEBIAN_FRONTEND=noninteractive\n");
        let packages = changes.iter().find_map(|c| match c {
            Change::Packages {
                install,
                upgrade,
                remove,
            } => Some((install, upgrade, remove)),
            _ => None,
        });

        let refresh = self.cache_stale(observed)
            && (self.cache_valid_time.is_some() || self.names.is_empty() || packages.is_some());
        if refresh {
            script.push_str(&format!(
                "apt-get -q -o DPkg::Lock::Timeout=120 update\n\
                 mkdir -p {dir}\ntouch {STAMP}\n",
                dir = quote("/var/lib/apt/periodic"),
            ));
        }

        let recommends = if self.install_recommends {
            "--install-recommends"
        } else {
            "--no-install-recommends"
        };
        let quoted = |names: &[String]| -> String {
            names.iter().map(|n| quote(n)).collect::<Vec<_>>().join(" ")
        };
        if self.state == PackageState::Absent {
            if let Some((_, _, remove)) = packages {
                let purge = if self.purge { " --purge" } else { "" };
                script.push_str(&format!("{APT_GET}{purge} remove {}\n", quoted(remove)));
            }
        } else {
            // After a refresh, `latest` may find candidates the probe could not see yet;
            // `install` of an up-to-date package is a no-op, so hand apt all of them.
            let names: Vec<String> = if refresh && self.state == PackageState::Latest {
                self.names.clone()
            } else {
                match packages {
                    Some((install, upgrade, _)) => install
                        .iter()
                        .cloned()
                        .chain(
                            upgrade
                                .iter()
                                .filter_map(|u| u.split(' ').next())
                                .map(String::from),
                        )
                        .collect(),
                    None => Vec::new(),
                }
            };
            if !names.is_empty() {
                let install = format!("{APT_GET} {recommends} install {}\n", quoted(&names));
                match self.policy_rc_d {
                    // A policy-rc.d already there is the host's own: keep it as it is.
                    Some(code) => script.push_str(&format!(
                        "if [ -e /usr/sbin/policy-rc.d ]; then {install}else
                         printf '#!/bin/sh\\nexit {code}\\n' > /usr/sbin/policy-rc.d
                         chmod 0755 /usr/sbin/policy-rc.d
                         trap 'rm -f /usr/sbin/policy-rc.d' EXIT
                         {install}rm -f /usr/sbin/policy-rc.d
trap - EXIT
fi
"
                    )),
                    None => script.push_str(&install),
                }
            }
        }

        let what = if self.names.is_empty() {
            "apt-get update".to_string()
        } else {
            format!("apt {}", self.names.join(" "))
        };
        host.run_ok(&what, &script).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build(v: serde_json::Value) -> Result<Apt, ArgError> {
        crate::resources::args::build_from("apt", v, Apt::from_args)
    }

    const VIM_INSTALLED: &str = "pkg=vim install ok installed 2:9.0.1378-2\n";

    #[test]
    fn names_come_as_one_or_a_list_and_are_checked() {
        assert_eq!(build(json!({"name": "vim"})).unwrap().names, ["vim"]);
        let apt = build(json!({"name": ["vim", "git"], "state": "latest"})).unwrap();
        assert_eq!(apt.names, ["vim", "git"]);
        assert_eq!(apt.state, PackageState::Latest);
        assert!(build(json!({"name": "vim=2:9.0"})).is_err());
        assert!(build(json!({"name": "-oAPT::x"})).is_err());
        assert!(build(json!({"state": "present"})).is_err());
        assert!(build(json!({"name": "vim", "stat": "absent"})).is_err());
    }

    #[test]
    fn only_missing_packages_are_installed() {
        let apt = build(json!({"name": ["vim", "git", "curl"]})).unwrap();
        let out = format!("{VIM_INSTALLED}pkg=git deinstall ok config-files 1:2.39.5-0\n");
        let changes = apt.diff(&Probe::from_stdout(&out)).unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].to_string(), "packages: install git curl");
        assert!(apt.diff(&Probe::from_stdout(VIM_INSTALLED)).unwrap().len() == 1);
        let all = "pkg=vim install ok installed 1\npkg=git install ok installed 1\n\
                   pkg=curl hold ok installed 1\n";
        assert!(apt.diff(&Probe::from_stdout(all)).unwrap().is_empty());
    }

    #[test]
    fn absent_removes_installed_and_purge_also_leftover_config() {
        let apt = build(json!({"name": ["vim", "git"], "state": "absent"})).unwrap();
        let out = format!("{VIM_INSTALLED}pkg=git deinstall ok config-files 1\n");
        assert_eq!(
            apt.diff(&Probe::from_stdout(&out)).unwrap()[0].to_string(),
            "packages: remove vim"
        );
        let purge =
            build(json!({"name": ["vim", "git"], "state": "absent", "purge": true})).unwrap();
        assert_eq!(
            purge.diff(&Probe::from_stdout(&out)).unwrap()[0].to_string(),
            "packages: remove vim git"
        );
        assert!(apt.diff(&Probe::from_stdout("")).unwrap().is_empty());
    }

    #[test]
    fn latest_upgrades_when_the_candidate_differs() {
        let apt = build(json!({"name": "vim", "state": "latest"})).unwrap();
        let old = format!("{VIM_INSTALLED}candidate=vim 2:9.0.1378-2+deb12u1\n");
        assert_eq!(
            apt.diff(&Probe::from_stdout(&old)).unwrap()[0].to_string(),
            "packages: upgrade vim (2:9.0.1378-2 -> 2:9.0.1378-2+deb12u1)"
        );
        let same = format!("{VIM_INSTALLED}candidate=vim 2:9.0.1378-2\n");
        assert!(apt.diff(&Probe::from_stdout(&same)).unwrap().is_empty());
    }

    #[test]
    fn a_fresh_cache_is_no_change_and_a_stale_one_is() {
        let apt =
            build(json!({"name": "vim", "update_cache": true, "cache_valid_time": 3600})).unwrap();
        let fresh = format!("{VIM_INSTALLED}cache_age=120\n");
        assert!(apt.diff(&Probe::from_stdout(&fresh)).unwrap().is_empty());
        let stale = format!("{VIM_INSTALLED}cache_age=7200\n");
        let changes = apt.diff(&Probe::from_stdout(&stale)).unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(
            changes[0].to_string(),
            "run apt-get update (last refreshed 7200s ago)"
        );
        // No lists at all: refresh.
        assert_eq!(
            apt.diff(&Probe::from_stdout(VIM_INSTALLED)).unwrap().len(),
            1
        );
    }

    #[test]
    fn update_cache_without_validity_refreshes_only_before_installing() {
        let apt = build(json!({"name": "vim", "update_cache": true})).unwrap();
        assert!(apt
            .diff(&Probe::from_stdout(VIM_INSTALLED))
            .unwrap()
            .is_empty());
        assert!(apt.cache_stale(&Probe::from_stdout(VIM_INSTALLED)));
        let only = build(json!({"update_cache": "yes"})).unwrap();
        assert_eq!(
            only.diff(&Probe::from_stdout("")).unwrap()[0].to_string(),
            "run apt-get update"
        );
    }

    #[test]
    fn a_host_without_dpkg_is_an_error() {
        let apt = build(json!({"name": "vim"})).unwrap();
        assert!(apt.diff(&Probe::from_stdout("dpkg=missing\n")).is_err());
    }

    #[test]
    fn probe_quotes_names_and_keeps_dpkg_format_literal() {
        let apt = build(json!({"name": "vim", "state": "latest"})).unwrap();
        let p = apt.probe();
        assert!(p.contains("-f='pkg=${Package} ${Status} ${Version}\\n' 'vim'"));
        assert!(p.contains("apt-cache policy 'vim'"));
    }
}
