//! The SSH transport: one russh connection per host, one session channel per `exec`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use russh::client::{self, Handle};
use russh::keys::{Algorithm, PublicKey};
use russh::ChannelMsg;
use tokio::sync::Semaphore;

use super::known_hosts::{self, HostKeyStatus, KnownHosts};
use super::ssh_config::SshConfigEntry;
use super::{ssh_auth, Output, Transport, TransportError};

/// OpenSSH's default MaxSessions: more channels at once are refused by the server, so
/// further `exec` calls wait for a free one instead.
const MAX_CHANNELS: usize = 10;

/// Everything needed to reach and log in to one host.
#[derive(Debug, Clone)]
pub struct SshTarget {
    /// Inventory name, for messages and the ssh_config lookup.
    pub host: String,
    /// What to connect to: a DNS name or an IP address.
    pub address: String,
    pub port: u16,
    pub user: String,
    /// Tried in order after the agent; empty means `~/.ssh/id_{ed25519,ecdsa,rsa}`.
    pub identity_files: Vec<PathBuf>,
    pub known_hosts: PathBuf,
    /// Record the key of a host that known_hosts does not name yet, instead of refusing.
    pub accept_new_host_keys: bool,
    /// Bounds TCP connect, key exchange and authentication together.
    pub connect_timeout: Duration,
    /// The ssh-agent socket to try first; `resolve` takes it from `SSH_AUTH_SOCK`.
    pub agent_socket: Option<PathBuf>,
}

/// What the inventory says explicitly about a host; each value wins over ssh_config.
#[derive(Debug, Clone, Default)]
pub struct ExplicitSsh {
    pub address: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub identity_files: Vec<PathBuf>,
}

impl SshTarget {
    /// Merges inventory values over ssh_config over the defaults (the host name itself,
    /// port 22, `$USER`, `~/.ssh/known_hosts`, 10 s timeout, `SSH_AUTH_SOCK`).
    pub fn resolve(host: &str, explicit: &ExplicitSsh, config: &SshConfigEntry) -> SshTarget {
        let home = dirs::home_dir().unwrap_or_default();
        let user = explicit
            .user
            .clone()
            .or_else(|| config.user.clone())
            .unwrap_or_else(|| {
                std::env::var("USER")
                    .or_else(|_| std::env::var("LOGNAME"))
                    .unwrap_or("root".into())
            });
        let identity_files = if explicit.identity_files.is_empty() {
            config.identity_files.clone()
        } else {
            explicit.identity_files.clone()
        };

        SshTarget {
            host: host.to_string(),
            address: explicit
                .address
                .clone()
                .or_else(|| config.host_name.clone())
                .unwrap_or(host.into()),
            port: explicit.port.or(config.port).unwrap_or(22),
            user,
            identity_files,
            known_hosts: home.join(".ssh").join("known_hosts"),
            accept_new_host_keys: false,
            connect_timeout: Duration::from_secs(10),
            agent_socket: std::env::var_os("SSH_AUTH_SOCK").map(PathBuf::from),
        }
    }
}

/// An authenticated connection to one host.
pub struct SshTransport {
    host: String,
    handle: Handle<HostKeyCheck>,
    channels: Semaphore,
}

/// Opens the connection, verifies the host key and authenticates.
pub async fn connect(target: &SshTarget) -> Result<SshTransport, TransportError> {
    let started = std::time::Instant::now();
    let handle = tokio::time::timeout(target.connect_timeout, connect_and_login(target))
        .await
        .map_err(|_| {
            connect_error(
                target,
                format!("timed out after {:?}", target.connect_timeout),
            )
        })??;
    tracing::debug!(
        "connected to {} as {} in {:?}",
        target.host,
        target.user,
        started.elapsed()
    );

    Ok(SshTransport {
        host: target.host.clone(),
        handle,
        channels: Semaphore::new(MAX_CHANNELS),
    })
}

async fn connect_and_login(target: &SshTarget) -> Result<Handle<HostKeyCheck>, TransportError> {
    let known = KnownHosts::load(&target.known_hosts).map_err(|e| {
        connect_error(
            target,
            format!("cannot read {}: {e}", target.known_hosts.display()),
        )
    })?;
    let names = lookup_names(target);
    let known_types = known.known_key_types(&names, target.port);

    let mut config = client::Config {
        keepalive_interval: Some(Duration::from_secs(30)),
        nodelay: true,
        ..Default::default()
    };
    config.preferred.key = host_key_preference(&config.preferred.key, &known_types).into();

    let verdict = Arc::new(Mutex::new(None));
    let checker = HostKeyCheck {
        target: target.clone(),
        known,
        verdict: verdict.clone(),
    };
    let addr = (target.address.as_str(), target.port);
    let result = client::connect(Arc::new(config), addr, checker).await;
    let mut handle = match result {
        Ok(handle) => handle,
        Err(e) => {
            let refused = verdict.lock().expect("verdict lock").take();
            return Err(refused.unwrap_or_else(|| connect_error(target, e.to_string())));
        }
    };

    ssh_auth::authenticate(&mut handle, target).await?;
    Ok(handle)
}

/// The names known_hosts may list the host under: the address connected to, as OpenSSH
/// does, and the inventory name when it differs.
fn lookup_names(target: &SshTarget) -> Vec<&str> {
    let mut names = vec![target.address.as_str()];
    if !target.host.eq_ignore_ascii_case(&target.address) {
        names.push(target.host.as_str());
    }
    names
}

/// Puts the key types known_hosts has for the host first, so a host with several host
/// keys shows the one we can check.
fn host_key_preference(default: &[Algorithm], known: &[Algorithm]) -> Vec<Algorithm> {
    let is_known = |a: &Algorithm| {
        known
            .iter()
            .any(|k| k == a || (k.clone().is_rsa() && a.clone().is_rsa()))
    };
    let (mut ordered, rest): (Vec<_>, Vec<_>) = default.iter().cloned().partition(is_known);
    ordered.extend(rest);
    ordered
}

fn connect_error(target: &SshTarget, reason: String) -> TransportError {
    TransportError::Connect {
        host: target.host.clone(),
        address: format!("{}:{}", target.address, target.port),
        reason,
    }
}

/// russh's connection handler: judges the host key, and keeps why it refused one.
struct HostKeyCheck {
    target: SshTarget,
    known: KnownHosts,
    verdict: Arc<Mutex<Option<TransportError>>>,
}

impl HostKeyCheck {
    fn judge(&self, key: &PublicKey) -> Result<(), TransportError> {
        let target = &self.target;
        let offered = known_hosts::fingerprint(key);
        let changed = |expected: String| TransportError::ChangedHostKey {
            host: target.host.clone(),
            expected,
            offered: offered.clone(),
        };

        match self.known.check(&lookup_names(target), target.port, key) {
            HostKeyStatus::Known => {
                tracing::debug!("host key of {} ({offered}) is known", target.host);
                Ok(())
            }
            HostKeyStatus::Changed { expected } => Err(changed(expected.join(", "))),
            HostKeyStatus::Revoked { line } => Err(changed(format!(
                "this very key marked @revoked (line {line})"
            ))),
            HostKeyStatus::Unknown if target.accept_new_host_keys => {
                known_hosts::append(&target.known_hosts, &target.address, target.port, key)
                    .map_err(|e| {
                        let path = target.known_hosts.display();
                        connect_error(target, format!("cannot record host key in {path}: {e}"))
                    })?;
                tracing::debug!("recorded new host key of {} ({offered})", target.host);
                Ok(())
            }
            HostKeyStatus::Unknown => Err(TransportError::UnknownHostKey {
                host: target.host.clone(),
                fingerprint: offered,
            }),
        }
    }
}

impl client::Handler for HostKeyCheck {
    type Error = russh::Error;

    async fn check_server_key(&mut self, key: &PublicKey) -> Result<bool, Self::Error> {
        match self.judge(key) {
            Ok(()) => Ok(true),
            Err(refusal) => {
                *self.verdict.lock().expect("verdict lock") = Some(refusal);
                Ok(false)
            }
        }
    }
}

#[async_trait]
impl Transport for SshTransport {
    async fn exec(&self, command: &str, stdin: &[u8]) -> Result<Output, TransportError> {
        let lost = |e: russh::Error| self.channel_error(e.to_string());
        let _slot = self
            .channels
            .acquire()
            .await
            .map_err(|_| self.channel_error("closed".into()))?;
        let channel = self.handle.channel_open_session().await.map_err(lost)?;
        channel.exec(true, command).await.map_err(lost)?;
        let (mut reader, writer) = channel.split();

        // Feed stdin while reading output: a command such as `cat` answers as it reads,
        // and neither side may wait for the other to finish.
        let feed = async {
            writer.data(stdin).await?;
            writer.eof().await
        };
        tokio::pin!(feed);
        let mut feeding = true;

        let mut out = Output::default();
        let mut status = None;
        loop {
            tokio::select! {
                fed = &mut feed, if feeding => {
                    feeding = false;
                    // A command may exit without reading all of its stdin.
                    if let Err(e) = fed {
                        tracing::debug!("stdin to {} cut short: {e}", self.host);
                    }
                }
                msg = reader.wait() => match msg {
                    Some(ChannelMsg::Data { data }) => out.stdout.extend_from_slice(&data),
                    Some(ChannelMsg::ExtendedData { data, ext: 1 }) => {
                        out.stderr.extend_from_slice(&data)
                    }
                    Some(ChannelMsg::ExitStatus { exit_status }) => {
                        status = Some(exit_status as i32)
                    }
                    Some(ChannelMsg::ExitSignal { signal_name, core_dumped, .. }) => {
                        tracing::debug!(
                            "command on {} killed by {signal_name:?} (core dumped: {core_dumped})",
                            self.host
                        );
                        status = Some(-1);
                    }
                    Some(ChannelMsg::Failure) => {
                        return Err(self.channel_error("the server refused to run the command".into()))
                    }
                    Some(_) => {}
                    // russh drops the channel's sender when the server closes it.
                    None => break,
                }
            }
        }

        out.status = match status {
            Some(status) => status,
            None if self.handle.is_closed() => {
                return Err(self.channel_error("closed before the command finished".into()))
            }
            None => {
                tracing::debug!("command on {} ended without an exit status", self.host);
                -1
            }
        };
        Ok(out)
    }

    async fn close(&self) {
        self.channels.close();
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}

impl SshTransport {
    fn channel_error(&self, reason: String) -> TransportError {
        TransportError::Channel {
            host: self.host.clone(),
            reason,
        }
    }
}
