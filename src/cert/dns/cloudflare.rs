//! Cloudflare's v4 API: find the zone, create and delete TXT records, with a scoped token.

use async_trait::async_trait;
use reqwest::{Method, RequestBuilder};
use serde::Deserialize;
use serde_json::json;

use super::{absolute, http_client, DnsProvider, RecordHandle};
use crate::cert::error::excerpt;
use crate::cert::{CertError, Secret};

/// Talks to Cloudflare with an API token (`Authorization: Bearer`), the scoped credential
/// with Zone DNS edit rights; the global API key is deliberately not supported.
pub struct Cloudflare {
    token: Secret,
    zone: Option<String>,
    base: String,
    http: reqwest::Client,
}

/// The documented envelope of every v4 response.
#[derive(Deserialize)]
struct Envelope<T> {
    success: bool,
    #[serde(default)]
    errors: Vec<ApiMessage>,
    result: Option<T>,
}

#[derive(Deserialize)]
struct ApiMessage {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

impl Cloudflare {
    pub const DEFAULT_API_BASE: &'static str = "https://api.cloudflare.com/client/v4";

    pub fn new(token: Secret, zone: Option<String>, api_base: &str) -> Result<Self, CertError> {
        Ok(Cloudflare {
            token,
            zone,
            base: api_base.trim_end_matches('/').to_string(),
            http: http_client("cloudflare")?,
        })
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token.expose())
    }

    /// Sends `request` and unwraps the envelope; failures carry the status and the API's
    /// own error messages (or a body excerpt), never the token.
    async fn call<T: for<'de> Deserialize<'de>>(
        &self,
        request: RequestBuilder,
        operation: &'static str,
        record: &str,
    ) -> Result<Option<T>, CertError> {
        let response = request.send().await.map_err(|e| CertError::DnsProvider {
            provider: "cloudflare",
            operation,
            record: record.to_string(),
            // reqwest errors show the URL, which holds no credential.
            reason: e.to_string(),
        })?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();

        let envelope = serde_json::from_str::<Envelope<T>>(&body);
        match envelope {
            Ok(env) if status.is_success() && env.success => Ok(env.result),
            Ok(env) if !env.errors.is_empty() => Err(CertError::DnsHttp {
                provider: "cloudflare",
                operation,
                record: record.to_string(),
                status: status.as_u16(),
                body: excerpt(
                    &env.errors
                        .iter()
                        .map(|m| format!("{} (code {})", m.message, m.code))
                        .collect::<Vec<_>>()
                        .join("; "),
                    300,
                ),
            }),
            _ => Err(CertError::DnsHttp {
                provider: "cloudflare",
                operation,
                record: record.to_string(),
                status: status.as_u16(),
                body: excerpt(&body, 200),
            }),
        }
    }

    /// The zone id: the configured zone, or the longest suffix of `fqdn` that is a zone.
    async fn zone_id(&self, fqdn: &str) -> Result<String, CertError> {
        let name = fqdn.trim_end_matches('.');
        let candidates: Vec<String> = match &self.zone {
            Some(zone) => vec![zone.trim_end_matches('.').to_string()],
            None => {
                let labels: Vec<&str> = name.split('.').collect();
                (0..labels.len())
                    .map(|i| labels[i..].join("."))
                    .filter(|c| c.contains('.'))
                    .collect()
            }
        };

        for candidate in &candidates {
            let request = self
                .request(Method::GET, "/zones")
                .query(&[("name", candidate.as_str())]);
            let zones: Vec<IdOnly> = self
                .call(request, "looking up the zone of", fqdn)
                .await?
                .unwrap_or_default();
            if let Some(zone) = zones.into_iter().next() {
                return Ok(zone.id);
            }
        }
        Err(CertError::ZoneNotFound {
            provider: "cloudflare",
            name: name.to_string(),
        })
    }
}

#[async_trait]
impl DnsProvider for Cloudflare {
    fn name(&self) -> &'static str {
        "cloudflare"
    }

    async fn set_txt(&self, fqdn: &str, value: &str) -> Result<RecordHandle, CertError> {
        let zone_id = self.zone_id(fqdn).await?;
        let request = self
            .request(Method::POST, &format!("/zones/{zone_id}/dns_records"))
            .json(&json!({
                "type": "TXT",
                "name": fqdn.trim_end_matches('.'),
                "content": value,
                "ttl": 60,
            }));
        let created: IdOnly = self
            .call(request, "creating TXT", fqdn)
            .await?
            .ok_or_else(|| CertError::DnsProvider {
                provider: "cloudflare",
                operation: "creating TXT",
                record: fqdn.to_string(),
                reason: "response has no result".into(),
            })?;

        let mut handle = RecordHandle::new(&absolute(fqdn), value);
        handle.zone = Some(zone_id);
        handle.id = Some(created.id);
        Ok(handle)
    }

    async fn clear_txt(&self, handle: &RecordHandle) -> Result<(), CertError> {
        let (Some(zone_id), Some(id)) = (&handle.zone, &handle.id) else {
            return Err(CertError::DnsProvider {
                provider: "cloudflare",
                operation: "deleting TXT",
                record: handle.fqdn.clone(),
                reason: "handle has no zone and record id".into(),
            });
        };
        let request = self.request(
            Method::DELETE,
            &format!("/zones/{zone_id}/dns_records/{id}"),
        );
        self.call::<serde_json::Value>(request, "deleting TXT", &handle.fqdn)
            .await?;
        Ok(())
    }
}
