//! RFC 2136 dynamic updates, TSIG-signed, sent to the zone's primary server.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::Engine;
use hickory_proto::op::{update_message, Message, ResponseCode};
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{Name, RData, Record, RecordSet, RecordType, TSigner};

use super::query::{exchange, fqdn, query};
use super::{absolute, DnsProvider, RecordHandle};
use crate::cert::{CertError, Secret};

/// TTL of the challenge records: short, they live for a minute.
const TXT_TTL: u32 = 60;
/// Allowed clock difference with the server, in seconds (BIND's default is 300).
const TSIG_FUDGE: u16 = 300;

/// Adds and deletes TXT records with TSIG-signed UPDATE messages to `server`.
pub struct Rfc2136 {
    server: SocketAddr,
    signer: TSigner,
    zone: Option<String>,
}

impl Rfc2136 {
    /// `key_secret` is the base64 secret of a `tsig-keygen` key; `key_algorithm` one of
    /// hmac-sha256 (default), hmac-sha384, hmac-sha512.
    pub fn new(
        server: SocketAddr,
        key_name: &str,
        key_secret: &Secret,
        key_algorithm: &str,
        zone: Option<String>,
    ) -> Result<Self, CertError> {
        let secret = base64::engine::general_purpose::STANDARD
            .decode(key_secret.expose().trim())
            .map_err(|_| CertError::spec("issuer.acme.dns.key_secret", "is not base64"))?;

        let algorithm = match key_algorithm.to_ascii_lowercase().trim_end_matches('.') {
            "hmac-sha256" => TsigAlgorithm::HmacSha256,
            "hmac-sha384" => TsigAlgorithm::HmacSha384,
            "hmac-sha512" => TsigAlgorithm::HmacSha512,
            other => {
                return Err(CertError::spec(
                    "issuer.acme.dns.key_algorithm",
                    format!(
                        "`{other}` is not supported (use hmac-sha256, hmac-sha384 or hmac-sha512)"
                    ),
                ))
            }
        };
        let key_name = fqdn(key_name)
            .map_err(|e| CertError::spec("issuer.acme.dns.key_name", e.to_string()))?;
        let signer = TSigner::new(secret, algorithm, key_name, TSIG_FUDGE)
            .map_err(|e| CertError::spec("issuer.acme.dns.key_algorithm", e.to_string()))?;

        Ok(Rfc2136 {
            server,
            signer,
            zone,
        })
    }

    /// The zone holding `name`: configured, or the owner of the SOA the server returns.
    async fn zone_of(&self, name: &Name) -> Result<Name, CertError> {
        if let Some(zone) = &self.zone {
            return fqdn(zone);
        }
        let response = query(self.server, name, RecordType::SOA, false)
            .await
            .map_err(|e| CertError::ZoneNotFound {
                provider: "rfc2136",
                name: format!("{name} ({e})"),
            })?;
        response
            .answers
            .iter()
            .chain(response.authorities.iter())
            .find(|r| r.record_type() == RecordType::SOA)
            .map(|r| r.name.clone())
            .ok_or_else(|| CertError::ZoneNotFound {
                provider: "rfc2136",
                name: format!("{name} (no SOA from {})", self.server),
            })
    }

    async fn send(
        &self,
        mut message: Message,
        operation: &'static str,
        record: &str,
    ) -> Result<(), CertError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        message
            .finalize(&self.signer, now)
            .map_err(|e| CertError::DnsProvider {
                provider: "rfc2136",
                operation,
                record: record.to_string(),
                reason: format!("TSIG signing: {e}"),
            })?;

        let response = exchange(self.server, &message, record).await?;
        let code = response.metadata.response_code;
        if code == ResponseCode::NoError {
            return Ok(());
        }
        let hint = match code {
            ResponseCode::NotAuth => {
                " (the server rejected the TSIG key name, secret or algorithm)"
            }
            ResponseCode::Refused => " (the key may not update this zone: check allow-update)",
            ResponseCode::NotZone => " (the name is not in the zone)",
            _ => "",
        };
        Err(CertError::DnsProvider {
            provider: "rfc2136",
            operation,
            record: record.to_string(),
            reason: format!("{} answered {code}{hint}", self.server),
        })
    }

    fn rrset(name: &Name, value: &str) -> RecordSet {
        let record = Record::from_rdata(
            name.clone(),
            TXT_TTL,
            RData::TXT(TXT::new(vec![value.to_string()])),
        );
        RecordSet::from(record)
    }
}

#[async_trait]
impl DnsProvider for Rfc2136 {
    fn name(&self) -> &'static str {
        "rfc2136"
    }

    async fn set_txt(&self, record: &str, value: &str) -> Result<RecordHandle, CertError> {
        let name = fqdn(record)?;
        let zone = self.zone_of(&name).await?;
        let message = update_message::append(Self::rrset(&name, value), zone.clone(), false, false);
        self.send(message, "adding TXT", &absolute(record)).await?;

        let mut handle = RecordHandle::new(record, value);
        handle.zone = Some(zone.to_string());
        Ok(handle)
    }

    async fn clear_txt(&self, handle: &RecordHandle) -> Result<(), CertError> {
        let name = fqdn(&handle.fqdn)?;
        let zone = match &handle.zone {
            Some(zone) => fqdn(zone)?,
            None => self.zone_of(&name).await?,
        };
        let message =
            update_message::delete_by_rdata(Self::rrset(&name, &handle.value), zone, false);
        self.send(message, "deleting TXT", &handle.fqdn).await
    }
}
