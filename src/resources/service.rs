//! `service`: a systemd unit running or stopped, enabled at boot or not.
//!
//! `restarted` and `reloaded` are actions, not states. As a task they mean "running" so
//! that a converged host reports no change (the usual way to restart is a handler). When
//! the engine runs a handler it calls `apply` directly with no changes, and then the
//! unit really is restarted or reloaded.

use async_trait::async_trait;

use super::remote::quote;
use super::{ArgError, Args, Change, HostHandle, Probe, Resource, ResourceError};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ServiceState {
    Started,
    Stopped,
    Restarted,
    Reloaded,
}

#[derive(Debug)]
pub struct Service {
    pub name: String,
    pub state: Option<ServiceState>,
    pub enabled: Option<bool>,
    /// Run `systemctl daemon-reload` first (after a unit file was written).
    pub daemon_reload: bool,
}

impl Service {
    pub fn from_args(args: &mut Args) -> Result<Service, ArgError> {
        let name = args.req_str("name")?;
        if name.is_empty() || name.starts_with('-') || name.contains(char::is_whitespace) {
            return Err(args.error(format!("`{name}` is not a unit name")));
        }
        let state = match args.str("state")?.as_deref() {
            None => None,
            Some("started") => Some(ServiceState::Started),
            Some("stopped") => Some(ServiceState::Stopped),
            Some("restarted") => Some(ServiceState::Restarted),
            Some("reloaded") => Some(ServiceState::Reloaded),
            Some(other) => {
                return Err(args.error(format!(
                    "argument `state` is `{other}`; expected one of: started, stopped, \
                     restarted, reloaded"
                )))
            }
        };
        let enabled = args.bool("enabled")?;
        let daemon_reload = args.bool("daemon_reload")?.unwrap_or(false);
        if state.is_none() && enabled.is_none() && !daemon_reload {
            return Err(args.error("give `state`, `enabled` or both"));
        }
        Ok(Service {
            name,
            state,
            enabled,
            daemon_reload,
        })
    }

    fn what(&self) -> String {
        format!("service {}", self.name)
    }
}

/// Unit file states in which `enabled` needs nothing done: a static unit has no
/// install section, a transient one lives only until it stops.
fn enablement_satisfied(unit_file_state: &str, want: bool) -> Option<bool> {
    match (unit_file_state, want) {
        ("static" | "transient", _) => Some(true),
        ("enabled" | "enabled-runtime", true) => Some(true),
        ("disabled" | "indirect" | "linked" | "linked-runtime", true) => Some(false),
        ("disabled" | "indirect" | "masked" | "masked-runtime", false) => Some(true),
        ("enabled" | "enabled-runtime" | "linked" | "linked-runtime", false) => Some(false),
        _ => None,
    }
}

fn is_running(active_state: &str) -> bool {
    matches!(active_state, "active" | "reloading" | "activating")
}

#[async_trait]
impl Resource for Service {
    fn probe(&self) -> String {
        format!(
            "command -v systemctl >/dev/null 2>&1 || {{ echo systemd=missing; exit 0; }}\n\
             systemctl show -p LoadState,ActiveState,UnitFileState -- {}\n",
            quote(&self.name)
        )
    }

    fn diff(&self, observed: &Probe) -> Result<Vec<Change>, ResourceError> {
        if observed.field("systemd").is_some() {
            return Err(ResourceError::new("service: this host has no systemctl"));
        }
        let load = observed.field("LoadState").unwrap_or("");
        if load != "loaded" {
            let why = if load.is_empty() { "unknown" } else { load };
            return Err(ResourceError::new(format!(
                "service {}: no such unit on this host (LoadState={why})",
                self.name
            )));
        }
        let active = observed.field("ActiveState").unwrap_or("");
        let unit_file = observed.field("UnitFileState").unwrap_or("");

        let mut changes = Vec::new();
        if let Some(want) = self.enabled {
            match enablement_satisfied(unit_file, want) {
                Some(true) => {}
                Some(false) => changes.push(Change::Set {
                    what: self.what(),
                    field: "enabled".into(),
                    from: unit_file.to_string(),
                    to: if want { "enabled" } else { "disabled" }.into(),
                }),
                None => {
                    return Err(ResourceError::new(format!(
                        "service {}: cannot make a {unit_file} unit {}",
                        self.name,
                        if want { "enabled" } else { "disabled" }
                    )))
                }
            }
        }
        let running = is_running(active);
        let (want_running, to) = match self.state {
            None => return Ok(changes),
            Some(ServiceState::Stopped) => (false, "stopped"),
            Some(_) => (true, "started"),
        };
        if running != want_running {
            changes.push(Change::Set {
                what: self.what(),
                field: "state".into(),
                from: active.to_string(),
                to: to.into(),
            });
        }
        Ok(changes)
    }

    async fn apply(
        &self,
        host: &HostHandle<'_>,
        _observed: &Probe,
        changes: &[Change],
    ) -> Result<(), ResourceError> {
        // No changes: the engine is running this task as a handler.
        let direct = changes.is_empty();
        let changes_field = |name: &str| {
            changes
                .iter()
                .any(|c| matches!(c, Change::Set { field, .. } if field == name))
        };
        let unit = quote(&self.name);
        let mut script = String::from("set -e\n");
        if self.daemon_reload {
            script.push_str("systemctl daemon-reload\n");
        }
        if let Some(want) = self.enabled {
            if direct || changes_field("enabled") {
                let verb = if want { "enable" } else { "disable" };
                script.push_str(&format!("systemctl {verb} -- {unit}\n"));
            }
        }
        if let Some(state) = self.state {
            if direct || changes_field("state") {
                let verb = match state {
                    ServiceState::Started => "start",
                    ServiceState::Stopped => "stop",
                    ServiceState::Restarted => "restart",
                    // Starts a stopped unit, restarts one that cannot reload.
                    ServiceState::Reloaded => "reload-or-restart",
                };
                script.push_str(&format!("systemctl {verb} -- {unit}\n"));
            }
        }
        host.run_ok(&self.what(), &script).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build(v: serde_json::Value) -> Result<Service, ArgError> {
        crate::resources::args::build_from("service", v, Service::from_args)
    }

    fn probe(active: &str, unit_file: &str) -> Probe {
        Probe {
            status: 0,
            stdout: format!("LoadState=loaded\nActiveState={active}\nUnitFileState={unit_file}\n"),
        }
    }

    #[test]
    fn arguments_are_checked() {
        let s = build(json!({"name": "nginx", "state": "reloaded", "enabled": "yes"})).unwrap();
        assert_eq!(s.state, Some(ServiceState::Reloaded));
        assert_eq!(s.enabled, Some(true));
        assert!(build(json!({"name": "nginx"})).is_err());
        assert!(build(json!({"name": "nginx", "state": "running"})).is_err());
        assert!(build(json!({"name": "--all", "state": "started"})).is_err());
    }

    #[test]
    fn stopped_disabled_unit_is_started_and_enabled() {
        let s = build(json!({"name": "nginx", "state": "started", "enabled": true})).unwrap();
        let changes = s.diff(&probe("inactive", "disabled")).unwrap();
        let shown: Vec<String> = changes.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            shown,
            [
                "service nginx: enabled disabled -> enabled",
                "service nginx: state inactive -> started"
            ]
        );
        assert!(s.diff(&probe("active", "enabled")).unwrap().is_empty());
        assert_eq!(s.diff(&probe("failed", "enabled")).unwrap().len(), 1);
    }

    #[test]
    fn restarted_as_a_task_only_ensures_running() {
        let s = build(json!({"name": "nginx", "state": "restarted"})).unwrap();
        assert!(s.diff(&probe("active", "enabled")).unwrap().is_empty());
        assert_eq!(
            s.diff(&probe("inactive", "enabled")).unwrap()[0].to_string(),
            "service nginx: state inactive -> started"
        );
    }

    #[test]
    fn stopping_and_static_units() {
        let s = build(json!({"name": "x", "state": "stopped", "enabled": false})).unwrap();
        assert!(s.diff(&probe("failed", "static")).unwrap().is_empty());
        assert_eq!(s.diff(&probe("active", "enabled")).unwrap().len(), 2);
        let masked = build(json!({"name": "x", "enabled": true})).unwrap();
        assert!(masked.diff(&probe("inactive", "masked")).is_err());
    }

    #[test]
    fn an_unknown_unit_is_an_error_naming_it() {
        let s = build(json!({"name": "nosuch", "state": "started"})).unwrap();
        let out = Probe {
            status: 0,
            stdout: "LoadState=not-found\nActiveState=inactive\nUnitFileState=\n".into(),
        };
        let err = s.diff(&out).unwrap_err().to_string();
        assert_eq!(
            err,
            "service nosuch: no such unit on this host (LoadState=not-found)"
        );
    }
}
