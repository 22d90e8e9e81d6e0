//! Resources: the kinds of state a task can declare (a file, a package, a service...).
//!
//! Every kind works the same way, and the engine relies on it:
//! 1. `probe` returns a read-only shell script that prints what the host has now. The
//!    engine batches the probes of many tasks into one round trip.
//! 2. `diff` compares that output with the desired state and returns typed changes; none
//!    means the host is already right.
//! 3. `apply` makes exactly those changes. It is never called in check mode.
//!
//! Dry run, diffs and reporting are the engine's job, not each resource's.

pub mod apt;
pub mod args;
pub mod certificate;
pub mod command;
pub mod copy;
pub mod file;
pub mod group;
#[cfg(test)]
mod live_check;
pub mod mariadb_client;
pub mod mariadb_database;
pub mod mariadb_privs;
pub mod mariadb_query;
pub mod mariadb_replication;
pub mod mariadb_user;
pub mod registry;
pub mod remote;
pub mod service;
pub mod user;

use std::fmt;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::transport::{Output, Transport};
pub use args::{ArgError, Args};

/// What a resource's probe script printed, and its exit status.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    pub status: i32,
    pub stdout: String,
}

impl Probe {
    /// A probe that printed `stdout` and exited 0.
    pub fn from_stdout(stdout: &str) -> Probe {
        Probe {
            status: 0,
            stdout: stdout.to_string(),
        }
    }

    /// The value of the `key=value` line `key`, if the probe printed one.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.stdout.lines().find_map(|line| {
            line.strip_prefix(key)
                .and_then(|rest| rest.strip_prefix('='))
        })
    }
}

/// One difference between the host and the declared state.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Something that does not exist yet will be created ("directory /etc/x", "user vmail").
    Create { what: String },
    /// Something that exists will be removed.
    Remove { what: String },
    /// One attribute differs: `what`'s `field` goes `from` -> `to`.
    Set {
        what: String,
        field: String,
        from: String,
        to: String,
    },
    /// A file's content differs. `sensitive` content is never shown, only announced.
    Content {
        path: String,
        before: Option<Vec<u8>>,
        after: Vec<u8>,
        sensitive: bool,
    },
    /// Packages to install, upgrade or remove.
    Packages {
        install: Vec<String>,
        upgrade: Vec<String>,
        remove: Vec<String>,
    },
    /// A command will run.
    Run { what: String },
}

impl Change {
    /// Each change as the one line the output shows for it.
    pub fn summaries(changes: &[Change]) -> Vec<String> {
        changes.iter().map(Change::to_string).collect()
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Create { what } => write!(f, "create {what}"),
            Change::Remove { what } => write!(f, "remove {what}"),
            Change::Set {
                what,
                field,
                from,
                to,
            } => write!(f, "{what}: {field} {from} -> {to}"),
            Change::Content { path, before, .. } => match before {
                Some(_) => write!(f, "content of {path}"),
                None => write!(f, "new file {path}"),
            },
            Change::Packages {
                install,
                upgrade,
                remove,
            } => {
                let mut parts = Vec::new();
                if !install.is_empty() {
                    parts.push(format!("install {}", install.join(" ")));
                }
                if !upgrade.is_empty() {
                    parts.push(format!("upgrade {}", upgrade.join(" ")));
                }
                if !remove.is_empty() {
                    parts.push(format!("remove {}", remove.join(" ")));
                }
                write!(f, "packages: {}", parts.join(", "))
            }
            Change::Run { what } => write!(f, "run {what}"),
        }
    }
}

/// A task that could not do its job on a host.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ResourceError(pub String);

impl ResourceError {
    pub fn new(message: impl Into<String>) -> Self {
        ResourceError(message.into())
    }

    /// A remote step that exited non-zero: the step's name, status and its stderr.
    pub fn failed(step: &str, out: &Output) -> Self {
        let mut detail = out.stderr_text().trim().to_string();
        if detail.is_empty() {
            detail = out.stdout_text().trim().to_string();
        }
        ResourceError(format!("{step} failed (exit {}): {detail}", out.status))
    }
}

/// Where a task's `src` files and templates are looked up, and how templates are rendered.
pub struct BuildCtx<'a> {
    pub host: &'a str,
    /// Searched in order for `copy` sources: the role's `files/`, then the playbook's dir.
    pub file_dirs: &'a [PathBuf],
    /// Searched in order for `template` sources: the role's `templates/`, then the playbook's dir.
    pub template_dirs: &'a [PathBuf],
    /// Directory of the inventory: where controller-side state (CA, ACME account) lives.
    pub inventory_dir: &'a Path,
    /// Renders a template file with this host's variables.
    pub render_file: &'a (dyn Fn(&Path) -> Result<String, String> + Sync),
}

impl BuildCtx<'_> {
    /// The first existing `name` in `dirs`; absolute names are taken as they are.
    pub fn find(dirs: &[PathBuf], name: &str) -> Option<PathBuf> {
        let path = Path::new(name);
        if path.is_absolute() {
            return path.exists().then(|| path.to_path_buf());
        }
        dirs.iter().map(|d| d.join(path)).find(|p| p.exists())
    }
}

/// What `apply` may use on the host: running scripts, as the task's user.
pub struct HostHandle<'a> {
    pub name: &'a str,
    pub transport: &'a dyn Transport,
    /// `sh -s`, or `sudo -n sh -s` when the task becomes root through sudo.
    pub shell: &'a str,
    pub shared: &'a crate::engine::Shared,
}

impl HostHandle<'_> {
    /// Runs `script` with the host's shell; the script travels on stdin.
    pub async fn run(&self, script: &str) -> Result<Output, ResourceError> {
        self.transport
            .exec(self.shell, script.as_bytes())
            .await
            .map_err(|e| ResourceError(e.to_string()))
    }

    /// Runs `script` and turns a non-zero exit into an error naming `step`.
    pub async fn run_ok(&self, step: &str, script: &str) -> Result<Output, ResourceError> {
        let out = self.run(script).await?;
        if out.success() {
            Ok(out)
        } else {
            Err(ResourceError::failed(step, &out))
        }
    }
}

/// Lets checks that look across tasks (lint) see the concrete resource behind a task.
pub trait AsAny {
    fn as_any(&self) -> &dyn std::any::Any;
}

impl<T: std::any::Any> AsAny for T {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// One declared piece of state on one host, built from a task's rendered arguments.
#[async_trait]
pub trait Resource: AsAny + Send + Sync + fmt::Debug {
    /// A read-only shell script printing the state `diff` needs. Runs in a subshell;
    /// its stderr is discarded and its exit status is passed on to `diff`.
    fn probe(&self) -> String;

    /// The changes that would bring the host to the declared state.
    fn diff(&self, observed: &Probe) -> Result<Vec<Change>, ResourceError>;

    /// Makes `changes` (what `diff` returned for `observed`) on the host.
    async fn apply(
        &self,
        host: &HostHandle<'_>,
        observed: &Probe,
        changes: &[Change],
    ) -> Result<(), ResourceError>;
}
