//! The `dns:` block of an ACME issuer: which provider sets the challenge records.

use serde::Deserialize;

use crate::cert::Secret;

/// `dns: { provider: cloudflare | rfc2136 | challtestsrv, ... }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case", deny_unknown_fields)]
pub enum DnsProviderConfig {
    /// Cloudflare's v4 API with a scoped API token (Zone DNS edit), never the global key.
    Cloudflare {
        api_token: Secret,
        /// The zone name; found by walking up the record's labels when absent.
        #[serde(default)]
        zone: Option<String>,
        /// The API base URL; the real API unless a test points it elsewhere.
        #[serde(default)]
        api_base: Option<String>,
    },
    /// A TSIG-signed dynamic update (RFC 2136) sent to the zone's primary.
    Rfc2136 {
        server: std::net::IpAddr,
        #[serde(default = "default_dns_port")]
        port: u16,
        key_name: String,
        key_secret: Secret,
        #[serde(default = "default_tsig_algorithm")]
        key_algorithm: String,
        /// The zone to update; asked of the server (SOA) when absent.
        #[serde(default)]
        zone: Option<String>,
    },
    /// pebble-challtestsrv's mock DNS, through its management API (port 8055).
    Challtestsrv { management_url: String },
}

fn default_dns_port() -> u16 {
    53
}

fn default_tsig_algorithm() -> String {
    "hmac-sha256".to_string()
}
