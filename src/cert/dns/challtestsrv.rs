//! pebble-challtestsrv's mock DNS, driven through its management HTTP API.

use async_trait::async_trait;
use serde_json::json;

use super::{absolute, http_client, DnsProvider, RecordHandle};
use crate::cert::error::excerpt;
use crate::cert::CertError;

/// Sets TXT records with `POST /set-txt` and clears them with `POST /clear-txt`
/// (the `/add-txt` of upstream docs is 404 in Debian's 2.4.0).
pub struct Challtestsrv {
    base: String,
    http: reqwest::Client,
}

impl Challtestsrv {
    pub fn new(management_url: &str) -> Result<Self, CertError> {
        Ok(Challtestsrv {
            base: management_url.trim_end_matches('/').to_string(),
            http: http_client("challtestsrv")?,
        })
    }

    async fn post(
        &self,
        operation: &'static str,
        path: &str,
        body: serde_json::Value,
        record: &str,
    ) -> Result<(), CertError> {
        let fail = |reason: String| CertError::DnsProvider {
            provider: "challtestsrv",
            operation,
            record: record.to_string(),
            reason,
        };
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .map_err(|e| fail(format!("{}: {e}", self.base)))?;

        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(CertError::DnsHttp {
                provider: "challtestsrv",
                operation,
                record: record.to_string(),
                status: status.as_u16(),
                body: excerpt(&body, 200),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl DnsProvider for Challtestsrv {
    fn name(&self) -> &'static str {
        "challtestsrv"
    }

    async fn set_txt(&self, fqdn: &str, value: &str) -> Result<RecordHandle, CertError> {
        let host = absolute(fqdn);
        self.post(
            "setting TXT",
            "/set-txt",
            json!({ "host": host, "value": value }),
            &host,
        )
        .await?;
        Ok(RecordHandle::new(&host, value))
    }

    async fn clear_txt(&self, handle: &RecordHandle) -> Result<(), CertError> {
        self.post(
            "clearing TXT",
            "/clear-txt",
            json!({ "host": handle.fqdn }),
            &handle.fqdn,
        )
        .await
    }
}
