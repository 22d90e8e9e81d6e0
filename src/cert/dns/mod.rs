//! DNS providers that publish the `_acme-challenge` TXT records of DNS-01.

mod challtestsrv;
mod cloudflare;
mod config;
pub(crate) mod query;
mod rfc2136;

use async_trait::async_trait;

pub use challtestsrv::Challtestsrv;
pub use cloudflare::Cloudflare;
pub use config::DnsProviderConfig;
pub use rfc2136::Rfc2136;

use crate::cert::CertError;

/// A TXT record that was published, with what the provider needs to remove it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHandle {
    /// Fully qualified, with the trailing dot: `_acme-challenge.mail.example.com.`.
    pub fqdn: String,
    pub value: String,
    /// Provider-specific: Cloudflare's zone and record ids, the RFC 2136 zone.
    pub(crate) zone: Option<String>,
    pub(crate) id: Option<String>,
}

impl RecordHandle {
    pub(crate) fn new(fqdn: &str, value: &str) -> Self {
        RecordHandle {
            fqdn: absolute(fqdn),
            value: value.to_string(),
            zone: None,
            id: None,
        }
    }
}

/// Publishes and removes TXT records in some DNS zone.
#[async_trait]
pub trait DnsProvider: Send + Sync {
    /// A short name for messages: `cloudflare`, `rfc2136`, `challtestsrv`.
    fn name(&self) -> &'static str;

    /// Adds a TXT record `fqdn` with `value`, next to any that already exist.
    async fn set_txt(&self, fqdn: &str, value: &str) -> Result<RecordHandle, CertError>;

    /// Removes exactly the record `set_txt` added.
    async fn clear_txt(&self, handle: &RecordHandle) -> Result<(), CertError>;
}

/// Builds the provider a spec's `dns:` block declares.
pub fn provider(config: &DnsProviderConfig) -> Result<Box<dyn DnsProvider>, CertError> {
    Ok(match config {
        DnsProviderConfig::Cloudflare {
            api_token,
            zone,
            api_base,
        } => Box::new(Cloudflare::new(
            api_token.clone(),
            zone.clone(),
            api_base.as_deref().unwrap_or(Cloudflare::DEFAULT_API_BASE),
        )?),
        DnsProviderConfig::Rfc2136 {
            server,
            port,
            key_name,
            key_secret,
            key_algorithm,
            zone,
        } => Box::new(Rfc2136::new(
            std::net::SocketAddr::new(*server, *port),
            key_name,
            key_secret,
            key_algorithm,
            zone.clone(),
        )?),
        DnsProviderConfig::Challtestsrv { management_url } => {
            Box::new(Challtestsrv::new(management_url)?)
        }
    })
}

/// `name` with exactly one trailing dot.
pub(crate) fn absolute(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

/// A plain HTTP client for the providers' APIs, with a timeout so a dead API fails.
pub(crate) fn http_client(provider: &'static str) -> Result<reqwest::Client, CertError> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .user_agent(concat!("dsprov/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| CertError::DnsProvider {
            provider,
            operation: "building HTTP client",
            record: String::new(),
            reason: e.to_string(),
        })
}
