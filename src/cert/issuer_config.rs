//! Which authority issues the certificate, as declared under `issuer:`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cert::dns::DnsProviderConfig;
use crate::cert::spec::DurationValue;

/// `issuer: { local_ca: {...} }` or `issuer: { acme: {...} }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum IssuerConfig {
    LocalCa(LocalCaConfig),
    Acme(Box<AcmeConfig>),
}

/// A private CA kept on the controller, e.g. in `<inventory dir>/.dsprov/ca/`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalCaConfig {
    pub dir: PathBuf,
}

/// An ACME v2 server reached from the controller, validating names with DNS-01.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeConfig {
    /// The directory URL: Let's Encrypt staging or production, or pebble in tests.
    pub directory: String,
    #[serde(default)]
    pub email: Option<String>,
    /// Where the account credentials are kept (mode 0600), like the CA key.
    pub account_dir: PathBuf,
    pub dns: DnsProviderConfig,
    /// Extra trust root for the ACME server's own TLS certificate (pebble's).
    #[serde(default)]
    pub root_ca_file: Option<PathBuf>,
    /// The root that issued certificates chain to, which hosts verify against and which
    /// `inspect` checks. Without it, only the chain the host holds is checked.
    #[serde(default)]
    pub trust_root_file: Option<PathBuf>,
    #[serde(default)]
    pub propagation: PropagationConfig,
}

/// How dsprov waits for the TXT records to be visible before asking for validation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropagationConfig {
    /// Ask these servers instead of the zone's authoritative ones (tests, split DNS).
    #[serde(default)]
    pub nameservers: Option<Vec<SocketAddr>>,
    #[serde(default = "PropagationConfig::default_timeout")]
    pub timeout: DurationValue,
}

impl PropagationConfig {
    fn default_timeout() -> DurationValue {
        DurationValue(Duration::from_secs(120))
    }
}

impl Default for PropagationConfig {
    fn default() -> Self {
        PropagationConfig {
            nameservers: None,
            timeout: Self::default_timeout(),
        }
    }
}

impl IssuerConfig {
    pub(crate) fn resolve_paths(&mut self, base: &Path) {
        let join = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        match self {
            IssuerConfig::LocalCa(ca) => join(&mut ca.dir),
            IssuerConfig::Acme(acme) => {
                join(&mut acme.account_dir);
                acme.root_ca_file.iter_mut().for_each(join);
                acme.trust_root_file.iter_mut().for_each(join);
            }
        }
    }
}
