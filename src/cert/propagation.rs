//! Waiting until the challenge TXT records are visible where the CA will look for them.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::rr::{Name, RData, RecordType};

use crate::cert::dns::query::{fqdn, query, txt_values};
use crate::cert::{CertError, PropagationConfig};

const POLL_INTERVAL: Duration = Duration::from_millis(500);
const RESOLV_CONF: &str = "/etc/resolv.conf";

/// Returns once every `(record, value)` pair is answered by every server that should
/// have it: the configured `nameservers`, or the authoritative servers of its zone.
pub(crate) async fn wait_visible(
    records: &[(String, String)],
    config: &PropagationConfig,
) -> Result<(), CertError> {
    let deadline = Instant::now() + config.timeout.0;
    let started = Instant::now();

    for (record, value) in records {
        let name = fqdn(record)?;
        let servers = match &config.nameservers {
            Some(servers) => servers.clone(),
            None => authoritative_servers(&name).await?,
        };

        loop {
            let mut missing = Vec::new();
            for server in &servers {
                // A server that does not answer counts as not having the record yet.
                let seen = match query(*server, &name, RecordType::TXT, false).await {
                    Ok(response) => txt_values(&response, &name).iter().any(|v| v == value),
                    Err(e) => {
                        tracing::debug!(%server, record, error = %e, "TXT query failed");
                        false
                    }
                };
                if !seen {
                    missing.push(server.to_string());
                }
            }
            if missing.is_empty() {
                tracing::debug!(
                    record,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "TXT visible"
                );
                break;
            }
            if Instant::now() >= deadline {
                return Err(CertError::PropagationTimeout {
                    record: record.clone(),
                    servers: missing.join(", "),
                    waited_secs: started.elapsed().as_secs(),
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
    Ok(())
}

/// The addresses (port 53) of the authoritative servers of the zone holding `name`,
/// found through the system's resolvers.
async fn authoritative_servers(name: &Name) -> Result<Vec<SocketAddr>, CertError> {
    let resolver = system_resolver()?;

    // The SOA either answers (name is an apex) or comes back in the authority section.
    let soa = query(resolver, name, RecordType::SOA, true).await?;
    let zone = soa
        .answers
        .iter()
        .chain(soa.authorities.iter())
        .find(|r| r.record_type() == RecordType::SOA)
        .map(|r| r.name.clone())
        .ok_or_else(|| CertError::DnsQuery {
            record: name.to_string(),
            server: resolver.to_string(),
            reason: "no SOA found, so the zone is unknown".into(),
        })?;

    let ns = query(resolver, &zone, RecordType::NS, true).await?;
    let mut servers = Vec::new();
    for host in ns.answers.iter().filter_map(|r| match &r.data {
        RData::NS(ns) => Some(ns.0.clone()),
        _ => None,
    }) {
        let addresses = query(resolver, &host, RecordType::A, true).await?;
        servers.extend(addresses.answers.iter().filter_map(|r| match &r.data {
            RData::A(a) => Some(SocketAddr::new(IpAddr::V4(a.0), 53)),
            _ => None,
        }));
    }

    if servers.is_empty() {
        return Err(CertError::DnsQuery {
            record: format!("{zone} NS"),
            server: resolver.to_string(),
            reason: "no authoritative server addresses found".into(),
        });
    }
    Ok(servers)
}

fn system_resolver() -> Result<SocketAddr, CertError> {
    let text = std::fs::read_to_string(RESOLV_CONF).map_err(|e| CertError::io(RESOLV_CONF, e))?;
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .find_map(|ip| ip.trim().parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .ok_or_else(|| CertError::parse(RESOLV_CONF, "no nameserver line"))
}
