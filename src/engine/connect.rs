//! Opening one SSH connection per host and gathering its facts over it.

use std::sync::Arc;

use super::facts;
use super::host::HostRun;
use super::{Loaded, Options};
use crate::output::Reporter;
use crate::transport::ssh::{self, ExplicitSsh, SshTarget};
use crate::transport::ssh_config;
use crate::transport::{Output, Transport, TransportError};

/// Counts a host's remote commands, reported at the end of the run: the measure of how
/// well probes are batched.
struct Counted<T> {
    host: String,
    inner: T,
    count: std::sync::atomic::AtomicUsize,
}

impl<T> Counted<T> {
    fn new(host: &str, inner: T) -> Self {
        Counted {
            host: host.to_string(),
            inner,
            count: Default::default(),
        }
    }
}

#[async_trait::async_trait]
impl<T: Transport> Transport for Counted<T> {
    async fn exec(&self, command: &str, stdin: &[u8]) -> Result<Output, TransportError> {
        self.count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.exec(command, stdin).await
    }

    async fn close(&self) {
        let n = self.count.load(std::sync::atomic::Ordering::Relaxed);
        tracing::info!(host = %self.host, remote_commands = n, "closing connection");
        self.inner.close().await;
    }
}

/// Where a host is reached: inventory values over `~/.ssh/config` over defaults.
pub fn target(loaded: &Loaded, opts: &Options, host: &str) -> Result<SshTarget, String> {
    let conn = loaded.inventory.connection(host)?;
    let explicit = ExplicitSsh {
        address: Some(conn.address),
        port: conn.port,
        user: conn.user,
        identity_files: conn
            .ssh_key
            .into_iter()
            .chain(opts.private_key.clone())
            .collect(),
    };
    let config_path = dirs::home_dir()
        .unwrap_or_default()
        .join(".ssh")
        .join("config");
    let config = ssh_config::lookup(&config_path, host);
    // The inventory name is what ssh_config is matched on; an address the inventory
    // defaulted to the name must not hide the config's HostName.
    let explicit = if explicit.address.as_deref() == Some(host) && config.host_name.is_some() {
        ExplicitSsh {
            address: None,
            ..explicit
        }
    } else {
        explicit
    };
    let mut target = SshTarget::resolve(host, &explicit, &config);
    if let Some(kh) = &opts.known_hosts {
        target.known_hosts = kh.clone();
    }
    target.accept_new_host_keys = opts.accept_new_host_keys;
    Ok(target)
}

async fn connect_one(loaded: &Loaded, opts: &Options, host: &str) -> Result<HostRun, String> {
    let target = target(loaded, opts, host)?;
    let ssh = ssh::connect(&target).await.map_err(|e| e.to_string())?;
    let transport: Arc<dyn Transport> = Arc::new(Counted::new(host, ssh));
    let out = transport
        .exec("sh -s", facts::script().as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(format!(
            "gathering facts failed: {}",
            out.stderr_text().trim()
        ));
    }
    let facts = facts::parse(&out.stdout_text());
    tracing::debug!(host, user = %facts.user, "connected and gathered facts");
    Ok(HostRun::new(host.to_string(), transport, facts))
}

/// Connects to `hosts` in parallel (at most `forks` at once). Unreachable hosts are
/// reported and left out; the others go on.
pub async fn connect_all(
    loaded: &Loaded,
    opts: &Options,
    hosts: &[String],
    reporter: &Reporter,
) -> Vec<HostRun> {
    let limit = Arc::new(tokio::sync::Semaphore::new(opts.forks.max(1)));
    let attempts = hosts.iter().map(|h| {
        let limit = limit.clone();
        async move {
            let _permit = limit.acquire().await.expect("semaphore open");
            (h, connect_one(loaded, opts, h).await)
        }
    });
    let mut connected = Vec::new();
    for (host, result) in futures::future::join_all(attempts).await {
        match result {
            Ok(run) => connected.push(run),
            Err(e) => reporter.unreachable(host, &e),
        }
    }
    connected
}
