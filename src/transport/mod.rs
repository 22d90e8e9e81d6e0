//! How dsprov reaches a host: a `Transport` runs one remote command with bytes on its stdin.
//!
//! Everything the engine does on a host goes through `Transport::exec`. Scripts are always
//! sent on stdin (the command line is a fixed `sh -s`), so no task argument, and in
//! particular no secret, ever shows up in a remote process list.

pub mod known_hosts;
pub mod local;
pub mod ssh;
mod ssh_auth;
pub mod ssh_config;

use async_trait::async_trait;

/// What a finished remote command left behind.
#[derive(Debug, Clone, Default)]
pub struct Output {
    /// Exit status; -1 when the command was killed by a signal or gave none.
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == 0
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// A failure to talk to the host at all, as opposed to a command that ran and failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot connect to {host} ({address}): {reason}")]
    Connect {
        host: String,
        address: String,
        reason: String,
    },
    #[error("host key of {host} is not known; rerun with --accept-new-host-keys to record it ({fingerprint})")]
    UnknownHostKey { host: String, fingerprint: String },
    #[error("host key of {host} has CHANGED: known_hosts has {expected}, the host offers {offered}; refusing to connect")]
    ChangedHostKey {
        host: String,
        expected: String,
        offered: String,
    },
    #[error("authentication as {user} on {host} failed: {reason}")]
    Auth {
        host: String,
        user: String,
        reason: String,
    },
    #[error("connection to {host} lost: {reason}")]
    Channel { host: String, reason: String },
}

/// A connection to one host. Implementations must allow concurrent `exec` calls
/// (SSH multiplexes them as channels over one connection).
#[async_trait]
pub trait Transport: Send + Sync {
    /// Runs `command` (a fixed command line such as `sh -s`) with `stdin` fed to it and closed.
    async fn exec(&self, command: &str, stdin: &[u8]) -> Result<Output, TransportError>;

    /// Closes the connection politely. Further `exec` calls fail.
    async fn close(&self) {}
}
